//! The bare Pingora passthrough with the gateway's allocator (mimalloc):
//! `scripts/bench` runs both, so the gateway's figures can be read against
//! the stock hop and against the same hop with the allocator the gateway
//! ships with.
//!
//!     cargo run --release -p portcullis-proxy --example passthrough_mimalloc -- \
//!         127.0.0.1:8081 127.0.0.1:1337 [THREADS]

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "passthrough.rs"]
mod passthrough;

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    passthrough::main()
}
