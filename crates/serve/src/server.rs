//! The listening loop: HTTP/1.1 connections with a header timeout, a cap on open
//! connections, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;

use crate::api::router;
use crate::classifier::Classifier;
use crate::error::ServeError;

/// The server's limits. The defaults suit a drawing page on one machine.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// The largest request body accepted, in bytes (default 2 MiB).
    pub body_limit: usize,
    /// Time allowed for a request's headers to arrive (default 5 s); a connection that is
    /// slower is closed.
    pub header_timeout: Duration,
    /// Time allowed for a request's body to arrive (default 10 s).
    pub body_timeout: Duration,
    /// Inferences run at once, on blocking threads off the async workers (default: one per
    /// core).
    pub workers: usize,
    /// Requests that may wait for a worker; more are answered 503 (default 256).
    pub max_waiting: usize,
    /// Connections open at once; more are closed on accept (default 1,024).
    pub max_connections: usize,
    /// Time open requests get to finish after a shutdown signal (default 5 s).
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            body_limit: 2 << 20,
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_waiting: 256,
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl ServerConfig {
    fn check(&self) -> Result<(), ServeError> {
        let fail = |setting, message: &str| {
            Err(ServeError::Config {
                setting,
                message: message.into(),
            })
        };
        if self.body_limit == 0 {
            return fail("body_limit", "must be at least 1 byte");
        }
        if self.workers == 0 {
            return fail("workers", "must be at least 1");
        }
        if self.max_connections == 0 {
            return fail("max_connections", "must be at least 1");
        }
        if self.header_timeout.is_zero() || self.body_timeout.is_zero() {
            return fail("timeouts", "must be longer than zero");
        }
        Ok(())
    }
}

/// A classifier bound to an address, ready to serve.
#[derive(Debug)]
pub struct Server {
    listener: std::net::TcpListener,
    classifier: Classifier,
    config: ServerConfig,
}

impl Server {
    /// Listens on `address` (`127.0.0.1:8080`; port 0 picks a free one).
    ///
    /// # Errors
    /// An address that cannot be listened on, or settings out of range.
    pub fn bind(
        address: &str,
        classifier: Classifier,
        config: ServerConfig,
    ) -> Result<Self, ServeError> {
        config.check()?;
        let bind_error = |source| ServeError::Bind {
            address: address.to_string(),
            source,
        };
        let listener = std::net::TcpListener::bind(address).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        Ok(Self {
            listener,
            classifier,
            config,
        })
    }

    /// The address listened on.
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves on a new multi-threaded runtime until Ctrl-C, then stops gracefully.
    pub fn run_until_ctrl_c(self) -> Result<(), ServeError> {
        self.run(async {
            // If the signal cannot be installed, serve until killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }

    /// Serves on a new multi-threaded runtime until `shutdown` completes; then stops
    /// accepting connections, lets open requests finish (for at most
    /// [`ServerConfig::shutdown_grace`]) and returns.
    pub fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("strata-serve")
            .build()?;
        runtime.block_on(self.serve(shutdown))
    }

    /// Serves on a thread of its own until [`RunningServer::shutdown`] (a server inside a
    /// program or a test).
    pub fn spawn(self) -> Result<RunningServer, ServeError> {
        let address = self.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("strata-serve".into())
            .spawn(move || {
                self.run(async {
                    // A dropped sender stops the server too.
                    let _ = stopped.await;
                })
            })?;
        Ok(RunningServer {
            address,
            stop,
            thread,
        })
    }

    /// Serves on the current tokio runtime until `shutdown` completes (as
    /// [`Server::run`]).
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServeError> {
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        let config = self.config.clone();
        let service = TowerToHyperService::new(router(self.classifier, self.config));
        let connections = Arc::new(Semaphore::new(config.max_connections));
        let graceful = GracefulShutdown::new();
        let mut shutdown = pin!(shutdown);
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(_) => {
                        // Out of file descriptors or a connection reset before accept:
                        // back off briefly rather than spin.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
                drop(stream);
                continue;
            };
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(config.header_timeout)
                .max_buf_size(64 << 10);
            let connection =
                graceful.watch(builder.serve_connection(TokioIo::new(stream), service.clone()));
            tokio::spawn(async move {
                // A failed connection (reset, timed out) concerns only its client.
                let _ = connection.await;
                drop(permit);
            });
        }
        drop(listener);
        // Open requests finish; idle connections close.
        let _ = tokio::time::timeout(config.shutdown_grace, graceful.shutdown()).await;
        Ok(())
    }
}

/// A server running on its own thread (from [`Server::spawn`]).
#[derive(Debug)]
pub struct RunningServer {
    address: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Result<(), ServeError>>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting, lets open requests finish, and waits for the server to end.
    pub fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.stop.send(());
        self.thread
            .join()
            .map_err(|_| ServeError::Io(std::io::Error::other("the server thread panicked")))?
    }
}
