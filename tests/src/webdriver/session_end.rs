//! Ending a WebDriver session without an async runtime, for `Drop`.
//!
//! A browser dropped without [`Browser::close`](super::Browser::close) (a test
//! that panicked, say) must still close Chromium: killing chromedriver alone
//! would leave Chromium running. `Drop` cannot await, so this sends the
//! `DELETE /session/{id}` with a plain blocking socket.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `DELETE {session_path}` to the driver at `driver` and waits for its answer.
pub(crate) fn end_blocking(driver: SocketAddr, session_path: &str) {
    if let Err(error) = send_delete(driver, session_path) {
        eprintln!("warning: could not end WebDriver session {session_path}: {error}");
    }
}

fn send_delete(driver: SocketAddr, session_path: &str) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&driver, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "DELETE {session_path} HTTP/1.1\r\nHost: {driver}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // The driver answers once the browser has quit; the answer itself does not
    // matter, and the driver may keep the connection open after it.
    let mut answer = [0_u8; 512];
    match stream.read(&mut answer)? {
        0 => Err(std::io::ErrorKind::UnexpectedEof.into()),
        _ => Ok(()),
    }
}
