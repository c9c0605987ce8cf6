//! A TCP proxy between a server under test and its database, which a test
//! can cut: the database "goes away" while the server keeps running.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwarding.
    Up,
    /// The database is down: connections are reset, new ones refused.
    Down,
    /// The network black-holes: connections stay open but nothing passes,
    /// new ones are accepted and hang. Leaving this mode resets them all.
    Stalled,
}

pub struct Proxy {
    pub addr: SocketAddr,
    mode: Arc<watch::Sender<Mode>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy on a free local port to `target`, forwarding.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let (mode, _) = watch::channel(Mode::Up);
        let mode = Arc::new(mode);
        let task = tokio::spawn(serve(listener, addr, target, mode.clone()));
        Proxy { addr, mode, task }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.set(Mode::Down);
        self.task.abort();
    }
}

/// Waits until the mode is no longer `mode`.
async fn leaves(mode: Mode, watch: &mut watch::Receiver<Mode>) {
    let _ = watch.wait_for(|m| *m != mode).await;
}

async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    target: SocketAddr,
    mode: Arc<watch::Sender<Mode>>,
) {
    let mut listener = Some(listener);
    let mut watch = mode.subscribe();
    loop {
        let current = *watch.borrow_and_update();
        if current == Mode::Down {
            // Closed: connecting is refused until the database is back.
            listener = None;
            leaves(Mode::Down, &mut watch).await;
            continue;
        }
        let accepting = match &listener {
            Some(listener) => listener,
            None => match TcpListener::bind(addr).await {
                Ok(bound) => listener.insert(bound),
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        tokio::select! {
            accepted = accepting.accept() => {
                if let Ok((client, _)) = accepted {
                    tokio::spawn(connection(client, target, mode.subscribe()));
                }
            }
            _ = watch.changed() => {}
        }
    }
}

/// One client connection, as long as the mode lets it live.
async fn connection(mut client: TcpStream, target: SocketAddr, mut watch: watch::Receiver<Mode>) {
    let current = *watch.borrow_and_update();
    match current {
        Mode::Down => return,
        Mode::Stalled => return leaves(Mode::Stalled, &mut watch).await,
        Mode::Up => {}
    }
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    // The mode first: bytes that arrive after the test changed it (a
    // statement sent into the black hole) must not pass, whichever woke
    // this task.
    tokio::select! {
        biased;
        _ = watch.wait_for(|m| *m != Mode::Up) => {}
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
    }
    // Down: close both sides now. Stalled: hold them silent until it ends.
    let current = *watch.borrow();
    if current == Mode::Stalled {
        leaves(Mode::Stalled, &mut watch).await;
    }
}
