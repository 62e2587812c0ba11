//! Password hashing: argon2id for new hashes, bcrypt accepted for hashes
//! imported from Strapi, and [`PasswordPool`] to run both off the reactor.
//!
//! Both algorithms are deliberately slow (tens of milliseconds of CPU and,
//! for argon2, 7 MiB of memory each). Called directly from an async task
//! they would stall every request on that worker; [`PasswordPool`] runs them
//! on its own threads behind a semaphore, so a login flood queues and memory
//! stays bounded by `max_concurrent × 7 MiB`. Those threads run at the
//! lowest scheduling priority (nice 19): when the CPU is contended, proxied
//! requests go first and logins wait, so a login flood cannot degrade the
//! latency of everything else.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use tokio::sync::Semaphore;

use crate::{Error, Result};

/// argon2id with the last of OWASP's five equivalent parameter sets
/// (Password Storage Cheat Sheet): 7 MiB, 5 passes, 1 lane. The sets trade
/// memory for passes at equal strength; this one is the cheapest per login
/// here (17 ms against 23 ms for 19 MiB × 2, `cargo bench -p
/// portcullis-store --bench password`), as its memory is faulted in and
/// cached faster.
const M_COST_KIB: u32 = 7_168;
const T_COST: u32 = 5;
const P_COST: u32 = 1;

/// OWASP's equivalent (memory KiB, passes) sets: a hash made with any of
/// them, or stronger, is current and not re-hashed on login.
const OWASP_SETS: [(u32, u32); 5] = [
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
];

/// Outcome of [`verify_password`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Correct, and stored with the current algorithm and parameters.
    Ok,
    /// Correct, but stored with bcrypt or weaker argon2 parameters: the
    /// caller should store [`hash_password`] of the plain text.
    OkNeedsRehash,
    Mismatch,
}

impl Verified {
    /// `true` for both correct outcomes.
    pub fn is_ok(self) -> bool {
        !matches!(self, Verified::Mismatch)
    }
}

fn hasher() -> Result<Argon2<'static>> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|e| Error::PasswordHash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `plain` with argon2id into a PHC string
/// (`$argon2id$v=19$m=7168,t=5,p=1$…`). Blocking; see [`PasswordPool`].
pub fn hash_password(plain: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::PasswordHash(e.to_string()))?;
    let hash = hasher()?
        .hash_password(plain.as_bytes(), &salt)
        .map_err(|e| Error::PasswordHash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Checks `plain` against a stored argon2 PHC string or bcrypt hash
/// (`$2a$`, `$2b$`, `$2y$`, as Strapi stores them). A stored value in no
/// known format is a [`Verified::Mismatch`] (fail closed) and is logged
/// without its content. Blocking; see [`PasswordPool`].
pub fn verify_password(plain: &str, stored: &str) -> Result<Verified> {
    if ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
    {
        // `verify` (not `non_truncating_verify`) because Strapi's bcryptjs
        // silently used only the first 72 bytes when it made these hashes.
        return match bcrypt::verify(plain, stored) {
            Ok(true) => Ok(Verified::OkNeedsRehash),
            Ok(false) => Ok(Verified::Mismatch),
            Err(e) => {
                tracing::warn!(error = %e, "malformed bcrypt hash in store");
                Ok(Verified::Mismatch)
            }
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        tracing::warn!("stored password hash has an unknown format");
        return Ok(Verified::Mismatch);
    };
    if !parsed.algorithm.as_str().starts_with("argon2") {
        tracing::warn!(algorithm = %parsed.algorithm, "unsupported password hash algorithm");
        return Ok(Verified::Mismatch);
    }
    // Verification takes its parameters from the PHC string itself, so
    // hashes made with older parameters keep working.
    match Argon2::default().verify_password(plain.as_bytes(), &parsed) {
        Ok(()) if is_current(&parsed) => Ok(Verified::Ok),
        Ok(()) => Ok(Verified::OkNeedsRehash),
        Err(argon2::password_hash::Error::Password) => Ok(Verified::Mismatch),
        Err(e) => Err(Error::PasswordHash(e.to_string())),
    }
}

fn is_current(hash: &PasswordHash<'_>) -> bool {
    let Ok(params) = Params::try_from(hash) else {
        return false;
    };
    hash.algorithm == argon2::ARGON2ID_IDENT
        && hash.version == Some(Version::V0x13.into())
        && params.p_cost() >= P_COST
        && OWASP_SETS
            .iter()
            .any(|&(m, t)| params.m_cost() >= m && params.t_cost() >= t)
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs hashing and verification on dedicated low-priority threads, at most
/// `max_concurrent` at a time; further calls wait their turn. Cheap to clone.
#[derive(Clone)]
pub struct PasswordPool {
    permits: Arc<Semaphore>,
    jobs: std::sync::mpsc::Sender<Job>,
    in_flight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl std::fmt::Debug for PasswordPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordPool")
            .field("available", &self.permits.available_permits())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

/// Lowers the calling thread to the lowest normal priority. Failing to is
/// not fatal (the pool still bounds concurrency).
fn lower_priority() {
    if let Err(e) =
        thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min)
    {
        tracing::debug!(error = ?e, "could not lower the password threads' priority");
    }
}

impl PasswordPool {
    /// A pool of `max_concurrent` (at least 1) worker threads.
    pub fn new(max_concurrent: usize) -> PasswordPool {
        let workers = max_concurrent.max(1);
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for i in 0..workers {
            let rx = Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name(format!("portcullis-pw-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only to take one job.
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // every pool handle is gone
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password thread");
            }
        }
        PasswordPool {
            permits: Arc::new(Semaphore::new(workers)),
            jobs: tx,
            in_flight: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// [`hash_password`] off the reactor.
    pub async fn hash(&self, plain: String) -> Result<String> {
        self.run(move || hash_password(&plain)).await
    }

    /// [`verify_password`] off the reactor.
    pub async fn verify(&self, plain: String, stored: String) -> Result<Verified> {
        self.run(move || verify_password(&plain, &stored)).await
    }

    /// Jobs running right now (a gauge for metrics).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Highest number of jobs that ever ran at once.
    pub fn peak_in_flight(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    async fn run<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| Error::Task(e.to_string()))?;
        let in_flight = Arc::clone(&self.in_flight);
        let peak = Arc::clone(&self.peak);
        let (reply, answer) = tokio::sync::oneshot::channel();
        let work: Job = Box::new(move || {
            // The permit moves into the job so that a caller that gives up
            // (dropped future) does not free a slot still in use.
            let _permit = permit;
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let out = job();
            in_flight.fetch_sub(1, Ordering::SeqCst);
            let _ = reply.send(out);
        });
        self.jobs
            .send(work)
            .map_err(|_| Error::Task("password threads are gone".into()))?;
        answer
            .await
            .map_err(|_| Error::Task("password job dropped".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_roundtrip_uses_owasp_parameters() -> Result<()> {
        let hash = hash_password("correct horse")?;
        assert!(hash.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{hash}");
        assert_eq!(verify_password("correct horse", &hash)?, Verified::Ok);
        assert_eq!(verify_password("wrong horse", &hash)?, Verified::Mismatch);
        Ok(())
    }

    #[test]
    fn weaker_argon2_needs_rehash() -> Result<()> {
        let params = Params::new(8, 1, 1, None).map_err(|e| Error::PasswordHash(e.to_string()))?;
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::encode_b64(b"0123456789abcdef")
            .map_err(|e| Error::PasswordHash(e.to_string()))?;
        let hash = weak
            .hash_password(b"pw", &salt)
            .map_err(|e| Error::PasswordHash(e.to_string()))?
            .to_string();
        assert_eq!(verify_password("pw", &hash)?, Verified::OkNeedsRehash);
        assert_eq!(verify_password("px", &hash)?, Verified::Mismatch);
        Ok(())
    }

    #[test]
    fn every_owasp_set_is_current() -> Result<()> {
        let salt = SaltString::encode_b64(b"0123456789abcdef")
            .map_err(|e| Error::PasswordHash(e.to_string()))?;
        let hash_with = |m: u32, t: u32| -> Result<String> {
            let params =
                Params::new(m, t, 1, None).map_err(|e| Error::PasswordHash(e.to_string()))?;
            Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"pw", &salt)
                .map_err(|e| Error::PasswordHash(e.to_string()))?
                .to_string())
        };
        // Hashes made before the switch to 7 MiB × 5 stay as they are.
        assert_eq!(verify_password("pw", &hash_with(19_456, 2)?)?, Verified::Ok);
        assert_eq!(verify_password("pw", &hash_with(9_216, 4)?)?, Verified::Ok);
        // Fewer passes than its memory calls for: re-hashed.
        assert_eq!(
            verify_password("pw", &hash_with(9_216, 3)?)?,
            Verified::OkNeedsRehash
        );
        Ok(())
    }

    #[test]
    fn unknown_formats_fail_closed() -> Result<()> {
        assert_eq!(verify_password("pw", "")?, Verified::Mismatch);
        assert_eq!(verify_password("pw", "plaintext")?, Verified::Mismatch);
        assert_eq!(verify_password("pw", "$2b$04$short")?, Verified::Mismatch);
        assert_eq!(
            verify_password("pw", "$pbkdf2-sha256$i=1$c2FsdA$aGFzaA")?,
            Verified::Mismatch
        );
        Ok(())
    }
}
