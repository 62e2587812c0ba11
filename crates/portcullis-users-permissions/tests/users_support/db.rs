//! Fresh databases for one test body (see `support/pg.rs`, shared with the
//! auth suite).

#[path = "../support/pg.rs"]
mod pg;

pub use pg::{on_postgres, on_sqlite};

/// `mod $name { sqlite(), postgres() }`, each running `$body(url)`.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:path) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::users_support::on_sqlite($body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::users_support::on_postgres($body).await;
            }
        }
    };
}
