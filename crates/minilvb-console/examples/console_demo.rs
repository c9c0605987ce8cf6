//! The console over the in-memory backend, filled with demo rooms:
//! `cargo run --example console_demo --features memory -- [ADDR] [BASE_PATH]`
//! (default 127.0.0.1:8081, no base path). Operators: admin, mod and view,
//! each with the password `demo-password`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use minilvb_console::memory::MemoryBackend;
use minilvb_console::{ConsoleConfig, Role, demo, router};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args.next().as_deref().unwrap_or("127.0.0.1:8081").parse()?;
    let base_path = args.next().unwrap_or_default().parse()?;

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let backend = Arc::new(MemoryBackend::new(now));
    demo::seed(&backend);
    for (name, role) in [
        ("admin", Role::Admin),
        ("mod", Role::Moderator),
        ("view", Role::Viewer),
    ] {
        backend.put_operator(name, role, "demo-password")?;
    }
    // The demo's clock follows the wall clock, as the server's does.
    let ticking = backend.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            ticking.advance(1);
        }
    });

    let config = ConsoleConfig {
        base_path,
        ..ConsoleConfig::default()
    };
    let app = router(backend, config);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("console on http://{}/", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
