//! Downloading datasets over plain HTTP: resumable, checksum-verified, atomic.
//!
//! [`Downloader::fetch`] writes into `<file>.part`, resuming an existing partial file with a
//! `Range` request, verifies the SHA-256 or MD5 checksum of the whole file, and only then
//! renames it to its final name; a crash or a broken connection leaves at most the `.part`
//! file, which the next call resumes. Redirects (301, 302, 303, 307, 308) are followed.
//!
//! Each connect and each read waits at most [`Downloader::timeout`]; the whole call, retries
//! included, ends by [`Downloader::deadline`] (a server sending one byte every few seconds
//! cannot keep it going). A broken connection, a timeout or a server error (5xx) is retried
//! up to [`Downloader::retries`] times, waiting [`Downloader::backoff`], doubled after each
//! try, in between; each retry resumes the partial file with a `Range` request.
//!
//! The default build has no TLS (a TLS stack would pull in C code): URLs must be `http://`;
//! an `https://` URL or redirect is an error saying so. Point the URLs at an HTTP mirror, or
//! download by other means and read the files with the dataset readers.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};
use crate::http::{get, HttpUrl};

/// The expected checksum of a file, as lower- or upper-case hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// SHA-256 (64 hex digits).
    Sha256(String),
    /// MD5 (32 hex digits), as published for MNIST and CIFAR.
    Md5(String),
}

impl Checksum {
    fn algorithm(&self) -> &'static str {
        match self {
            Checksum::Sha256(_) => "sha256",
            Checksum::Md5(_) => "md5",
        }
    }

    fn expected(&self) -> String {
        match self {
            Checksum::Sha256(h) | Checksum::Md5(h) => h.to_ascii_lowercase(),
        }
    }

    /// The hex digest of the file at `path` under this checksum's algorithm.
    pub fn digest_file(&self, path: &Path) -> Result<String> {
        let mut file = File::open(path).map_err(|e| DataError::io(path, "open", e))?;
        let mut buf = vec![0u8; 1 << 16];
        let mut sha = Sha256::new();
        let mut md5 = Md5::new();
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| DataError::io(path, "read", e))?;
            if n == 0 {
                break;
            }
            match self {
                Checksum::Sha256(_) => sha.update(&buf[..n]),
                Checksum::Md5(_) => md5.update(&buf[..n]),
            }
        }
        let bytes: Vec<u8> = match self {
            Checksum::Sha256(_) => sha.finalize().to_vec(),
            Checksum::Md5(_) => md5.finalize().to_vec(),
        };
        Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Whether the file at `path` has this checksum.
    pub fn matches(&self, path: &Path) -> Result<bool> {
        Ok(self.digest_file(path)? == self.expected())
    }
}

/// Fetches files over HTTP (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloader {
    timeout: Duration,
    deadline: Duration,
    retries: usize,
    backoff: Duration,
    max_redirects: usize,
}

/// The longest wait between two tries, however many tries came before.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Why one try failed, and whether another may do better.
struct Failure {
    error: DataError,
    retry: bool,
}

impl Failure {
    /// A failure that a retry cannot mend (a bad URL, a 404, a full disk).
    fn fatal(error: DataError) -> Self {
        Self {
            error,
            retry: false,
        }
    }

    /// A failure of the connection (broken, timed out) or a server error: worth a retry.
    fn transient(error: DataError) -> Self {
        Self { error, retry: true }
    }
}

impl From<DataError> for Failure {
    fn from(error: DataError) -> Self {
        Self::fatal(error)
    }
}

impl Default for Downloader {
    fn default() -> Self {
        Self::new()
    }
}

impl Downloader {
    /// A downloader with a 30 s connect/read timeout, a 1-hour overall deadline per file,
    /// 3 retries starting 1 s apart, and up to 5 redirects.
    pub fn new() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(3600),
            retries: 3,
            backoff: Duration::from_secs(1),
            max_redirects: 5,
        }
    }

    /// Sets the connect and read timeout (the longest wait for any one read).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the overall deadline of one [`Downloader::fetch`], retries and waits included.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets how many times a broken or timed-out download is tried again (0: never).
    pub fn retries(mut self, retries: usize) -> Self {
        self.retries = retries;
        self
    }

    /// Sets the wait before the first retry; it doubles after each one (at most 60 s).
    pub fn backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// Downloads `url` to `dest` unless `dest` already has the checksum.
    ///
    /// Resumes `<dest>.part` when present; on a checksum mismatch the partial file is
    /// deleted and [`DataError::Checksum`] returned; on a broken connection it is kept for
    /// the next call.
    pub fn fetch(&self, url: &str, dest: &Path, checksum: &Checksum) -> Result<()> {
        if dest.is_file() && checksum.matches(dest)? {
            return Ok(());
        }
        let part = part_path(dest);
        let deadline = Instant::now() + self.deadline;
        let mut wait = self.backoff;
        let mut tries = 0;
        loop {
            match self.fetch_part(url, &part, deadline) {
                Ok(()) => break,
                Err(failure) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if !failure.retry || tries >= self.retries || left <= wait {
                        return Err(failure.error);
                    }
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(MAX_BACKOFF);
                    tries += 1;
                }
            }
        }
        if !checksum.matches(&part)? {
            let found = checksum.digest_file(&part)?;
            let _ = fs::remove_file(&part);
            return Err(DataError::Checksum {
                path: part,
                algorithm: checksum.algorithm(),
                expected: checksum.expected(),
                found,
            });
        }
        fs::rename(&part, dest).map_err(|e| DataError::io(dest, "rename into place", e))
    }

    /// Brings `part` up to the whole body of `url`, by `deadline`.
    fn fetch_part(
        &self,
        url: &str,
        part: &Path,
        deadline: Instant,
    ) -> std::result::Result<(), Failure> {
        let mut url = url.to_string();
        for _ in 0..=self.max_redirects {
            let start = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
            // Whether the request failed on the connection (worth a retry) or on what it
            // asked for (a bad URL: not).
            let mut response =
                get(&url, start, self.timeout, deadline, self.deadline).map_err(|e| match &e {
                    DataError::Download { message, .. }
                        if message.contains("timed out")
                            || message.starts_with("connection")
                            || message.starts_with("cannot connect") =>
                    {
                        Failure::transient(e)
                    }
                    _ => Failure::fatal(e),
                })?;
            let fail = |message: String| DataError::Download {
                url: url.clone(),
                message,
            };
            let append = match response.status {
                200 => false,
                206 => {
                    let range = response.header("Content-Range").unwrap_or("");
                    let first = range
                        .trim_start_matches("bytes")
                        .trim()
                        .split('-')
                        .next()
                        .and_then(|s| s.parse::<u64>().ok());
                    if first != Some(start) {
                        return Err(Failure::fatal(fail(format!(
                            "asked for bytes from {start}, the server sent Content-Range {range:?}"
                        ))));
                    }
                    true
                }
                // The partial file already holds everything: let the checksum decide.
                416 if start > 0 => return Ok(()),
                301 | 302 | 303 | 307 | 308 => {
                    let location = response.header("Location").ok_or_else(|| {
                        Failure::fatal(fail(format!(
                            "redirect {} without Location",
                            response.status
                        )))
                    })?;
                    url = HttpUrl::parse(&url)?.join(location);
                    continue;
                }
                status if status >= 500 => {
                    return Err(Failure::transient(fail(format!("HTTP status {status}"))))
                }
                status => return Err(Failure::fatal(fail(format!("HTTP status {status}")))),
            };
            let mut file = if append {
                OpenOptions::new().append(true).open(part)
            } else {
                File::create(part)
            }
            .map_err(|e| DataError::io(part, "open for writing", e))?;
            let mut buf = vec![0u8; 1 << 16];
            let mut received = 0u64;
            loop {
                let n = match response.body.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = file.sync_all();
                        let message = if e.kind() == std::io::ErrorKind::TimedOut {
                            format!("{e}, after {received} bytes")
                        } else {
                            format!("connection broken after {received} bytes ({e})")
                        };
                        return Err(Failure::transient(fail(format!(
                            "{message}; {} is kept for resuming",
                            part.display()
                        ))));
                    }
                };
                if n == 0 {
                    break;
                }
                file.write_all(&buf[..n])
                    .map_err(|e| DataError::io(part, "write", e))?;
                received += n as u64;
            }
            file.sync_all()
                .map_err(|e| DataError::io(part, "sync", e))?;
            if let Some(len) = response.content_length {
                if received < len {
                    return Err(Failure::transient(fail(format!(
                        "connection closed after {received} of {len} bytes; {} is kept for resuming",
                        part.display()
                    ))));
                }
            }
            return Ok(());
        }
        Err(Failure::fatal(DataError::Download {
            url,
            message: format!("more than {} redirects", self.max_redirects),
        }))
    }
}

/// `<dest>.part`, beside `dest`.
fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// A set of files under one base URL with their checksums, e.g. [`RemoteFiles::mnist`].
/// The fields are public so that the URL can point to a mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFiles {
    /// URL prefix to which each file name is appended (ends with `/`).
    pub base_url: String,
    /// File names and their checksums.
    pub files: Vec<(String, Checksum)>,
}

impl RemoteFiles {
    /// MNIST's four `.gz` files with their published MD5 sums, from the original site
    /// (`http://yann.lecun.com/exdb/mnist/`; replace `base_url` with a mirror as needed).
    pub fn mnist() -> Self {
        let md5 = |n: &str, h: &str| (n.to_string(), Checksum::Md5(h.to_string()));
        Self {
            base_url: "http://yann.lecun.com/exdb/mnist/".into(),
            files: vec![
                md5(
                    "train-images-idx3-ubyte.gz",
                    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                ),
                md5(
                    "train-labels-idx1-ubyte.gz",
                    "d53e105ee54ea40749a09fcbcd1e9432",
                ),
                md5(
                    "t10k-images-idx3-ubyte.gz",
                    "9fb629c4189551a2d022fa330f9573f3",
                ),
                md5(
                    "t10k-labels-idx1-ubyte.gz",
                    "ec29112dd5afa0611ce80d1b7f02629c",
                ),
            ],
        }
    }

    /// CIFAR-10's binary archive with its published MD5 sum
    /// (`http://www.cs.toronto.edu/~kriz/`; that site may redirect to https, which this
    /// build does not follow: use a mirror).
    pub fn cifar10() -> Self {
        Self {
            base_url: "http://www.cs.toronto.edu/~kriz/".into(),
            files: vec![(
                "cifar-10-binary.tar.gz".into(),
                Checksum::Md5("c32a1d4ab5d03f1284b67883e8d87530".into()),
            )],
        }
    }

    /// Downloads every file into `dir` (created if needed), skipping those already present
    /// with the right checksum; returns their paths.
    pub fn fetch_all(&self, downloader: &Downloader, dir: &Path) -> Result<Vec<PathBuf>> {
        crate::fsio::create_dir_all(dir)?;
        self.files
            .iter()
            .map(|(name, checksum)| {
                let dest = dir.join(name);
                downloader.fetch(&format!("{}{name}", self.base_url), &dest, checksum)?;
                Ok(dest)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsio::tests::scratch;
    use std::io::{BufRead, BufReader};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    fn body() -> Vec<u8> {
        (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn sha256(bytes: &[u8]) -> Checksum {
        let h = Sha256::digest(bytes);
        Checksum::Sha256(h.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The `Range` starts the test server was asked for, in order.
    type Ranges = Arc<Mutex<Vec<usize>>>;

    /// A test server on 127.0.0.1; returns its base URL, a counter of requests to `/flaky`
    /// (which drops the connection after 77,777 bytes of its body on the first request),
    /// and the `Range` starts of all requests.
    fn serve() -> (String, Arc<AtomicUsize>, Ranges) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let flaky = Arc::new(AtomicUsize::new(0));
        let ranges = Ranges::default();
        let (counter, seen) = (Arc::clone(&flaky), Arc::clone(&ranges));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (counter, seen) = (Arc::clone(&counter), Arc::clone(&seen));
                std::thread::spawn(move || handle(stream, &counter, &seen));
            }
        });
        (base, flaky, ranges)
    }

    fn handle(mut stream: TcpStream, flaky: &AtomicUsize, ranges: &Mutex<Vec<usize>>) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request = String::new();
        reader.read_line(&mut request).unwrap();
        let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut start = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some(r) = line.strip_prefix("Range: bytes=") {
                start = r.trim().trim_end_matches('-').parse().unwrap();
            }
        }
        ranges.lock().unwrap().push(start);
        let data = body();
        let send_file = |stream: &mut TcpStream, start: usize, limit: usize| {
            let head = if start == 0 {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", data.len())
            } else if start >= data.len() {
                let _ = stream
                    .write_all(b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\n\r\n");
                return;
            } else {
                format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{}/{}\r\nContent-Length: {}\r\n\r\n",
                    data.len() - 1,
                    data.len(),
                    data.len() - start
                )
            };
            let _ = stream.write_all(head.as_bytes());
            let end = start.saturating_add(limit).min(data.len());
            let _ = stream.write_all(&data[start..end]);
        };
        match path.as_str() {
            "/file" => send_file(&mut stream, start, usize::MAX),
            "/flaky" => {
                let limit = if flaky.fetch_add(1, Ordering::SeqCst) == 0 {
                    77_777
                } else {
                    usize::MAX
                };
                send_file(&mut stream, start, limit);
            }
            // One byte every 100 ms: 20 s for the 200 bytes it promises.
            "/drip" => {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n");
                for b in 0..200u8 {
                    std::thread::sleep(Duration::from_millis(100));
                    if stream.write_all(&[b]).is_err() {
                        return;
                    }
                }
            }
            // Reads the request and says nothing for 3 s.
            "/silent" => std::thread::sleep(Duration::from_secs(3)),
            "/redirect" => {
                let _ = stream.write_all(
                    b"HTTP/1.1 302 Found\r\nLocation: /file\r\nContent-Length: 0\r\n\r\n",
                );
            }
            "/loop" => {
                let _ = stream.write_all(
                    b"HTTP/1.1 301 Moved\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n",
                );
            }
            "/chunked" => {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                for chunk in data.chunks(30_000) {
                    let _ = stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
                    let _ = stream.write_all(chunk);
                    let _ = stream.write_all(b"\r\n");
                }
                let _ = stream.write_all(b"0\r\n\r\n");
            }
            _ => {
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            }
        }
    }

    #[test]
    fn fetches_follows_redirects_and_decodes_chunks() {
        let (base, _, _) = serve();
        let dir = scratch("download-basic");
        let dl = Downloader::new().timeout(Duration::from_secs(5));
        for (i, path) in ["/file", "/redirect", "/chunked"].iter().enumerate() {
            let dest = dir.join(format!("out{i}"));
            dl.fetch(&format!("{base}{path}"), &dest, &sha256(&body()))
                .unwrap();
            assert_eq!(fs::read(&dest).unwrap(), body(), "{path}");
            assert!(!part_path(&dest).exists());
        }
        let e = dl
            .fetch(&format!("{base}/nope"), &dir.join("x"), &sha256(b""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nope") && e.contains("404"), "{e}");
        let e = dl
            .fetch(&format!("{base}/loop"), &dir.join("x"), &sha256(b""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("redirects"), "{e}");
    }

    #[test]
    fn resumes_a_broken_download_with_a_range_request() {
        let (base, flaky, _) = serve();
        let dir = scratch("download-resume");
        let dest = dir.join("data.bin");
        let dl = Downloader::new().timeout(Duration::from_secs(5)).retries(0);
        let sum = Checksum::Md5(format!("{:x}", Md5::digest(body())));
        let e = dl
            .fetch(&format!("{base}/flaky"), &dest, &sum)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("77777 of 200000") && e.contains("kept for resuming"),
            "{e}"
        );
        assert!(!dest.exists());
        assert_eq!(fs::metadata(part_path(&dest)).unwrap().len(), 77_777);
        dl.fetch(&format!("{base}/flaky"), &dest, &sum).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), body());
        assert_eq!(flaky.load(Ordering::SeqCst), 2);
        // Present with the right checksum: no request at all.
        dl.fetch(&format!("{base}/flaky"), &dest, &sum).unwrap();
        assert_eq!(flaky.load(Ordering::SeqCst), 2);
        // A complete .part file (server answers 416) is verified and renamed.
        let dest2 = dir.join("again.bin");
        fs::write(part_path(&dest2), body()).unwrap();
        dl.fetch(&format!("{base}/file"), &dest2, &sum).unwrap();
        assert_eq!(fs::read(&dest2).unwrap(), body());
    }

    #[test]
    fn a_dropped_connection_is_retried_from_where_it_broke() {
        let (base, flaky, ranges) = serve();
        let dest = scratch("download-retry").join("data.bin");
        let sum = sha256(&body());
        Downloader::new()
            .timeout(Duration::from_secs(5))
            .backoff(Duration::from_millis(10))
            .fetch(&format!("{base}/flaky"), &dest, &sum)
            .unwrap();
        assert_eq!(fs::read(&dest).unwrap(), body());
        assert_eq!(flaky.load(Ordering::SeqCst), 2);
        // The retry asked for the rest only, and got it as 206 Partial Content.
        assert_eq!(*ranges.lock().unwrap(), [0, 77_777]);
    }

    #[test]
    fn a_slow_drip_ends_at_the_overall_deadline() {
        let (base, _, ranges) = serve();
        let dest = scratch("download-drip").join("data.bin");
        let e = Downloader::new()
            .timeout(Duration::from_secs(5))
            .deadline(Duration::from_secs(1))
            .backoff(Duration::from_millis(10))
            .fetch(&format!("{base}/drip"), &dest, &sha256(b""))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("timed out after 1 s reading from 127.0.0.1")
                && e.contains("overall deadline")
                && e.contains("kept for resuming"),
            "{e}"
        );
        // Every byte arrived within the per-read timeout, yet the download stopped early.
        assert!(fs::metadata(part_path(&dest)).unwrap().len() < 200);
        assert!(!dest.exists());
        assert!(!ranges.lock().unwrap().is_empty());
    }

    #[test]
    fn a_silent_server_times_out_with_a_plain_message() {
        let (base, _, ranges) = serve();
        let dest = scratch("download-silent").join("data.bin");
        let e = Downloader::new()
            .timeout(Duration::from_millis(200))
            .retries(2)
            .backoff(Duration::from_millis(10))
            .fetch(&format!("{base}/silent"), &dest, &sha256(b""))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("timed out after 0.2 s reading from 127.0.0.1") && !e.contains("os error"),
            "{e}"
        );
        // The first try and two retries.
        assert_eq!(ranges.lock().unwrap().len(), 3);
    }

    #[test]
    fn checksum_mismatch_deletes_the_part_and_keeps_no_file() {
        let (base, _, _) = serve();
        let dir = scratch("download-mismatch");
        let dest = dir.join("data.bin");
        let wrong = Checksum::Sha256("00".repeat(32));
        let e = Downloader::new()
            .fetch(&format!("{base}/file"), &dest, &wrong)
            .unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, DataError::Checksum { .. }), "{text}");
        assert!(
            text.contains("data.bin.part") && text.contains("expected 0000"),
            "{text}"
        );
        assert!(!dest.exists() && !part_path(&dest).exists());
    }

    #[test]
    fn remote_files_fetch_into_a_folder() {
        let (base, _, _) = serve();
        let dir = scratch("download-set").join("sub");
        let files = RemoteFiles {
            base_url: format!("{base}/"),
            files: vec![
                ("file".into(), sha256(&body())),
                ("chunked".into(), sha256(&body())),
            ],
        };
        let paths = files.fetch_all(&Downloader::new(), &dir).unwrap();
        assert_eq!(paths, [dir.join("file"), dir.join("chunked")]);
        assert_eq!(RemoteFiles::mnist().files.len(), 4);
        assert!(RemoteFiles::cifar10().base_url.starts_with("http://"));
    }
}
