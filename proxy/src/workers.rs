//! Thread-per-core serving: `workers` threads, each running its own
//! single-threaded tokio runtime. The listener (on the control runtime, with the
//! routing watch and XA recovery) hands each accepted client to the next worker in
//! turn; the client's session, its backend connections and their pools then live
//! on that thread only ([`crate::backend::worker`] keys the pools), so a statement's wake-ups
//! never cross threads. On a small machine shared with MariaDB this spends
//! noticeably less CPU per statement than a work-stealing runtime (README,
//! Figures).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::session::Session;
use crate::shared::Shared;

/// An accepted client on its way to a worker.
struct Client {
    stream: std::net::TcpStream,
    peer: SocketAddr,
    id: u32,
}

/// The worker threads, fed round-robin.
pub struct Workers {
    queues: Vec<mpsc::UnboundedSender<Client>>,
    next: AtomicUsize,
}

/// A worker thread's stack: a session's statement is one deeply nested future
/// (dispatch → plan → execute → merge), polled down its whole depth; debug
/// builds need several MiB. Only the pages touched are ever backed by memory.
const WORKER_STACK: usize = 16 * 1024 * 1024;

impl Workers {
    /// Starts `n` (at least 1) worker threads serving sessions of `shared`.
    pub fn start(n: usize, shared: Arc<Shared>) -> std::io::Result<Self> {
        let mut queues = Vec::new();
        for i in 0..n.max(1) {
            let (tx, rx) = mpsc::unbounded_channel();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("setwise-worker-{i}"))
                .stack_size(WORKER_STACK)
                .spawn(move || {
                    crate::backend::worker::enter(i);
                    rt.block_on(serve_clients(rx, shared));
                })?;
            queues.push(tx);
        }
        Ok(Self {
            queues,
            next: AtomicUsize::new(0),
        })
    }

    /// Hands an accepted client to the next worker.
    pub fn assign(&self, stream: TcpStream, peer: SocketAddr, id: u32) -> std::io::Result<()> {
        let stream = stream.into_std()?;
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len();
        self.queues[i]
            .send(Client { stream, peer, id })
            .map_err(|_| std::io::Error::other("worker thread gone"))
    }
}

/// One worker's loop: a session task per client it is given.
async fn serve_clients(mut rx: mpsc::UnboundedReceiver<Client>, shared: Arc<Shared>) {
    while let Some(Client { stream, peer, id }) = rx.recv().await {
        let stream = match TcpStream::from_std(stream) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%peer, "cannot register a client connection: {e}");
                continue;
            }
        };
        // Connection limits (`crate::admission`): refused before the handshake.
        let ticket = match crate::admission::admission().connection(peer.ip()) {
            Ok(t) => t,
            Err(e) => {
                tracing::info!(%peer, "connection refused: {e}");
                tokio::spawn(async move { crate::front::refuse::refuse(stream, &e).await });
                continue;
            }
        };
        let activity = shared.registry.add(id);
        let session_shared = shared.clone();
        let task = tokio::spawn(async move {
            let version = session_shared.cfg.server_version.clone();
            let tls = session_shared.tls.clone();
            let session = Session::new(session_shared.clone(), id, activity);
            if let Err(e) = crate::front::serve(stream, session, id, &version, tls.as_ref()).await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
            drop(ticket);
        });
        shared.registry.set_abort(id, task.abort_handle());
        // Forget the connection when its task ends (a killed task never reaches
        // code of its own after the abort).
        let owner = shared.clone();
        tokio::spawn(async move {
            let _ = task.await;
            owner.registry.remove(id);
        });
    }
}
