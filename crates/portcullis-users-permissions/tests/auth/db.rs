//! One test body on a fresh SQLite file and on a fresh PostgreSQL database
//! (the databases come from `support/pg.rs`, shared with the users suites).

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
                $crate::db::on_sqlite($body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::db::on_postgres($body).await;
            }
        }
    };
}
