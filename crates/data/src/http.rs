//! A minimal HTTP/1.1 client on `std::net`: GET with an optional `Range`, `Content-Length`
//! or chunked bodies, and nothing else (no TLS: only `http://` URLs).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::error::{DataError, Result};

/// Longest response header accepted.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// A parsed `http://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpUrl {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl HttpUrl {
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let fail = |message: String| DataError::Download {
            url: url.to_string(),
            message,
        };
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(fail(format!(
                    "scheme {scheme}:// is not supported: this build speaks plain http:// only (use an http mirror)"
                )))
            }
            None => return Err(fail("expected an absolute http:// URL".into())),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !p.contains(']') => (
                h,
                p.parse::<u16>()
                    .map_err(|_| fail(format!("invalid port {p:?}")))?,
            ),
            _ => (authority, 80),
        };
        if host.is_empty() || host.contains('@') {
            return Err(fail(format!("invalid host {authority:?}")));
        }
        Ok(Self {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }

    /// Resolves `location` (absolute or an absolute path) against this URL.
    pub(crate) fn join(&self, location: &str) -> String {
        if location.contains("://") {
            location.to_string()
        } else if location.starts_with('/') {
            format!("http://{}:{}{location}", self.host, self.port)
        } else {
            let base = self.path.rsplit_once('/').map_or("", |(b, _)| b);
            format!("http://{}:{}{base}/{location}", self.host, self.port)
        }
    }
}

/// A response whose body is still to be read.
pub(crate) struct Response {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: Box<dyn Read>,
    /// Body length when the server said it (`Content-Length`, not chunked).
    pub content_length: Option<u64>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Seconds as a person reads them: `30 s`, `1.5 s`, `0.2 s`.
pub(crate) fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 || s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{} s", (s * 10.0).round() / 10.0)
    }
}

/// A connection whose every read waits at most `timeout` and ends by `deadline`; a read past
/// either fails with [`std::io::ErrorKind::TimedOut`] and a message naming the host and the
/// time (instead of the platform's "Resource temporarily unavailable (os error 11)").
struct Timed {
    stream: TcpStream,
    host: String,
    timeout: Duration,
    deadline: Instant,
    /// The whole time allowed, for messages.
    budget: Duration,
}

impl Timed {
    fn timed_out(&self, after: Duration, what: &str) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "timed out after {} reading from {}{what}",
                seconds(after),
                self.host
            ),
        )
    }
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.timed_out(self.budget, " (the download's overall deadline)"));
        }
        let wait = self.timeout.min(left);
        self.stream.set_read_timeout(Some(wait))?;
        match self.stream.read(buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if wait < self.timeout {
                    Err(self.timed_out(self.budget, " (the download's overall deadline)"))
                } else {
                    Err(self.timed_out(wait, ""))
                }
            }
            other => other,
        }
    }
}

/// Sends `GET url` (with `Range: bytes=start-` when `start > 0`) and reads the header.
/// Connecting and each read wait at most `timeout`; nothing goes on past `deadline`
/// (`budget` is the whole time that deadline allowed, for messages).
pub(crate) fn get(
    url: &str,
    start: u64,
    timeout: Duration,
    deadline: Instant,
    budget: Duration,
) -> Result<Response> {
    let parsed = HttpUrl::parse(url)?;
    let fail = |message: String| DataError::Download {
        url: url.to_string(),
        message,
    };
    let addrs = (parsed.host.as_str(), parsed.port)
        .to_socket_addrs()
        .map_err(|e| fail(format!("cannot resolve host {}: {e}", parsed.host)))?;
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(fail(format!(
                "timed out after {} connecting to {} (the download's overall deadline)",
                seconds(budget),
                parsed.host
            )));
        }
        match TcpStream::connect_timeout(&addr, timeout.min(left)) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut stream = stream.ok_or_else(|| match last {
        Some(e) if e.kind() == std::io::ErrorKind::TimedOut => fail(format!(
            "timed out after {} connecting to {}",
            seconds(timeout),
            parsed.host
        )),
        e => fail(format!(
            "cannot connect to {}: {}",
            parsed.host,
            e.map_or("no address".to_string(), |e| e.to_string())
        )),
    })?;
    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::TimedOut {
            fail(e.to_string())
        } else {
            fail(format!("connection error: {e}"))
        }
    };
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let host = if parsed.port == 80 {
        parsed.host.clone()
    } else {
        format!("{}:{}", parsed.host, parsed.port)
    };
    let range = if start > 0 {
        format!("Range: bytes={start}-\r\n")
    } else {
        String::new()
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: strata-data\r\nAccept: */*\r\nAccept-Encoding: identity\r\n{range}Connection: close\r\n\r\n",
        parsed.path
    );
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut reader = BufReader::new(Timed {
        stream,
        host: parsed.host.clone(),
        timeout,
        deadline,
        budget,
    });
    let limit = MAX_HEADER_BYTES as u64;
    let mut status_line = String::new();
    let mut header_bytes = (&mut reader)
        .take(limit)
        .read_line(&mut status_line)
        .map_err(io)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .filter(|_| status_line.starts_with("HTTP/1."))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| {
            fail(format!(
                "malformed status line {:?}",
                status_line.trim_end()
            ))
        })?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        let n = (&mut reader).take(limit).read_line(&mut line).map_err(io)?;
        header_bytes += n;
        if n == 0 {
            return Err(fail("connection closed inside the response header".into()));
        }
        if header_bytes > MAX_HEADER_BYTES {
            return Err(fail(format!(
                "response header longer than {MAX_HEADER_BYTES} bytes"
            )));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut response = Response {
        status,
        headers,
        body: Box::new(std::io::empty()),
        content_length: None,
    };
    let chunked = response
        .header("Transfer-Encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        response.body = Box::new(Chunked {
            inner: reader,
            remaining: 0,
            done: false,
        });
    } else if let Some(len) = response.header("Content-Length") {
        let len = len
            .parse::<u64>()
            .map_err(|_| fail(format!("invalid Content-Length {len:?}")))?;
        response.content_length = Some(len);
        response.body = Box::new(reader.take(len));
    } else {
        response.body = Box::new(reader);
    }
    Ok(response)
}

/// A reader of a chunked transfer-encoded body.
struct Chunked<R> {
    inner: R,
    remaining: u64,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            let mut line = String::new();
            if self.inner.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let size = line.trim().split(';').next().unwrap_or("");
            self.remaining =
                u64::from_str_radix(size, 16).map_err(|_| bad("malformed chunk size"))?;
            if self.remaining == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf.len().min(self.remaining as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.remaining -= n as u64;
        if self.remaining == 0 {
            let mut crlf = String::new();
            self.inner.read_line(&mut crlf)?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn chunked_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = Vec::new();
            let _ = Chunked { inner: &bytes[..], remaining: 0, done: false }.read_to_end(&mut out);
            prop_assert!(out.len() <= bytes.len());
        }

        #[test]
        fn url_parser_never_panics(url in "[a-z:/.@0-9\\[\\]]{0,30}") {
            if let Ok(u) = HttpUrl::parse(&url) {
                prop_assert!(u.path.starts_with('/'));
            }
        }
    }

    #[test]
    fn parses_and_joins_urls() {
        let u = HttpUrl::parse("http://127.0.0.1:8080/a/b.gz").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8080, "/a/b.gz")
        );
        assert_eq!(HttpUrl::parse("http://example.org").unwrap().path, "/");
        assert_eq!(u.join("/c"), "http://127.0.0.1:8080/c");
        assert_eq!(u.join("c"), "http://127.0.0.1:8080/a/c");
        assert_eq!(u.join("http://x/y"), "http://x/y");
        let e = HttpUrl::parse("https://example.org/x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("https") && e.contains("http:// only"), "{e}");
        assert!(HttpUrl::parse("http://h:99999/").is_err());
        assert!(HttpUrl::parse("ftp-ish").is_err());
    }

    #[test]
    fn decodes_chunked_bodies() {
        let raw = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
        let mut out = String::new();
        Chunked {
            inner: &raw[..],
            remaining: 0,
            done: false,
        }
        .read_to_string(&mut out)
        .unwrap();
        assert_eq!(out, "hello world");
        let mut out = Vec::new();
        let cut = &raw[..12];
        assert!(Chunked {
            inner: cut,
            remaining: 0,
            done: false
        }
        .read_to_end(&mut out)
        .is_err());
    }
}
