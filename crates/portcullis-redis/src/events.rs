//! Fleet events on the `{prefix}:events` channel and the subscriber task.
//!
//! Messages are plain text: `policy <version> <revision>`, `user <id>`,
//! `token <access key>`. A replica receives its own messages too.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use tokio::sync::watch;

use crate::fleet::{COMMAND_TIMEOUT, Fleet, SUB_DOWN, SUB_UP, Shared, probe};

/// First delay before resubscribing after a failure.
const RESUBSCRIBE_MIN_DELAY: Duration = Duration::from_millis(100);
/// Longest delay between resubscription attempts.
const RESUBSCRIBE_MAX_DELAY: Duration = Duration::from_secs(5);
/// How often an idle subscription is pinged to detect a dead connection.
const KEEPALIVE: Duration = Duration::from_secs(5);

/// Something another replica (or this one) changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new policy was published: swap to it (read it with
    /// [`Fleet::active_policy`]).
    Policy { version: String, revision: u64 },
    /// The user with this id changed: drop it from local caches.
    User(i64),
    /// The token with this access key changed (revoked): drop it.
    Token(String),
    /// The subscription was (re)established; messages may have been missed
    /// before it, so drop all local caches and re-read the active policy.
    Reconnected,
}

impl Event {
    /// Parses a message from the events channel; `None` if unknown.
    pub(crate) fn parse(text: &str) -> Option<Event> {
        let (kind, rest) = text.split_once(' ')?;
        match kind {
            "policy" => {
                let (version, revision) = rest.rsplit_once(' ')?;
                Some(Event::Policy {
                    version: version.to_owned(),
                    revision: revision.parse().ok()?,
                })
            }
            "user" => rest.parse().ok().map(Event::User),
            "token" if !rest.is_empty() => Some(Event::Token(rest.to_owned())),
            _ => None,
        }
    }
}

impl Fleet {
    /// Spawns (with `tokio::spawn`, so call it inside the runtime) a task
    /// holding a dedicated pub/sub connection to `{prefix}:events`, calling
    /// `on_event` for each event. It reconnects with exponential backoff
    /// (100 ms → 5 s) forever and emits [`Event::Reconnected`] after every
    /// successful (re)subscription, including the first. While it is not
    /// subscribed, [`Fleet::health`] is [`crate::Health::Down`]. The task
    /// stops when the last clone of this fleet is dropped.
    ///
    /// `on_event` runs on the subscriber task: keep it short and
    /// non-blocking.
    pub fn subscribe(&self, on_event: impl Fn(Event) + Send + Sync + 'static) {
        self.shared.sub_state.store(SUB_DOWN, Ordering::SeqCst);
        tokio::spawn(subscriber_loop(
            self.client.clone(),
            self.conn.clone(),
            self.shared.clone(),
            self.channel(),
            Box::new(on_event),
            self.shutdown_rx(),
        ));
    }
}

type Callback = Box<dyn Fn(Event) + Send + Sync>;

async fn subscriber_loop(
    client: redis::Client,
    conn: ConnectionManager,
    shared: Arc<Shared>,
    channel: String,
    on_event: Callback,
    mut shutdown: watch::Receiver<()>,
) {
    let mut delay = RESUBSCRIBE_MIN_DELAY;
    loop {
        match tokio::time::timeout(COMMAND_TIMEOUT, open(&client, &channel)).await {
            Ok(Ok(pubsub)) => {
                delay = RESUBSCRIBE_MIN_DELAY;
                shared.sub_state.store(SUB_UP, Ordering::SeqCst);
                tracing::info!(%channel, "subscribed to fleet events");
                // Redis answers: make sure the command connection follows
                // before the caller re-reads state on `Reconnected`.
                ensure_commands_up(&conn, &shared).await;
                on_event(Event::Reconnected);
                if listen(pubsub, &on_event, &mut shutdown).await.is_break() {
                    return;
                }
                shared.sub_state.store(SUB_DOWN, Ordering::SeqCst);
                tracing::warn!(%channel, "fleet event subscription lost; reconnecting");
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "fleet event subscription failed"),
            Err(_) => tracing::debug!("fleet event subscription timed out"),
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = shutdown.changed() => return,
        }
        delay = (delay * 2).min(RESUBSCRIBE_MAX_DELAY);
    }
}

async fn open(client: &redis::Client, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

/// A few quick probes so the connection manager reconnects now.
async fn ensure_commands_up(conn: &ConnectionManager, shared: &Shared) {
    for _ in 0..3 {
        if probe(conn).await {
            shared.set_cmd_up(true);
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Delivers messages until the connection dies (`Continue`) or the fleet is
/// dropped (`Break`).
async fn listen(
    pubsub: redis::aio::PubSub,
    on_event: &Callback,
    shutdown: &mut watch::Receiver<()>,
) -> std::ops::ControlFlow<()> {
    use std::ops::ControlFlow::{Break, Continue};
    let (mut sink, mut stream) = pubsub.split();
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.reset();
    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(msg) = msg else { return Continue(()) };
                match msg.get_payload::<String>() {
                    Ok(text) => match Event::parse(&text) {
                        Some(event) => on_event(event),
                        None => tracing::debug!(%text, "ignoring unknown fleet event"),
                    },
                    Err(e) => tracing::debug!(error = %e, "ignoring non-text fleet event"),
                }
            }
            _ = keepalive.tick() => {
                let ping = tokio::time::timeout(COMMAND_TIMEOUT, sink.ping::<redis::Value>());
                if !matches!(ping.await, Ok(Ok(_))) {
                    return Continue(());
                }
            }
            _ = shutdown.changed() => return Break(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Event;

    #[test]
    fn parses_messages() {
        assert_eq!(
            Event::parse("policy abc123 7"),
            Some(Event::Policy {
                version: "abc123".into(),
                revision: 7
            })
        );
        assert_eq!(Event::parse("user 42"), Some(Event::User(42)));
        assert_eq!(
            Event::parse("token k e y"),
            Some(Event::Token("k e y".into()))
        );
        assert_eq!(Event::parse("user x"), None);
        assert_eq!(Event::parse("policy abc"), None);
        assert_eq!(Event::parse("token "), None);
        assert_eq!(Event::parse("other 1"), None);
    }
}
