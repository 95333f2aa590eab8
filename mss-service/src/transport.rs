//! What the SMTP and IMAP clients share below their protocols: the TCP connection, bounded
//! in time, without Nagle's delay (both protocols are short command/reply exchanges).

use std::time::Duration;

use tokio::net::TcpStream;

/// Why no TCP connection was made.
pub(crate) enum ConnectFailure {
    /// No answer within the connect timeout.
    Timeout,
    /// Refused, unreachable, name not resolved…
    Io(std::io::Error),
}

/// A TCP connection to `host:port`, within `timeout`.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, ConnectFailure> {
    let tcp = match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Err(_) => return Err(ConnectFailure::Timeout),
        Ok(Err(e)) => return Err(ConnectFailure::Io(e)),
        Ok(Ok(tcp)) => tcp,
    };
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}
