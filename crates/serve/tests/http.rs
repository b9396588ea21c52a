//! The server over real sockets: the routes, every kind of bad request answered with a
//! clear JSON error (or the connection cut off), the server still serving afterwards, and
//! a graceful shutdown.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;
use strata_layers::layer::{DenseConfig, FlattenConfig};
use strata_layers::Sequential;
use strata_serve::{Classifier, Preprocess, RunningServer, Server, ServerConfig};

const LIMIT: usize = 1 << 20;

fn start() -> RunningServer {
    let mut model: Sequential<f32> = Sequential::builder(&[1, 28, 28])
        .seed(7)
        .add(FlattenConfig::new())
        .add(DenseConfig::new(10))
        .build()
        .unwrap();
    let names: Vec<String> = (0..10).map(|d| format!("digit {d}")).collect();
    model.set_class_names(names).unwrap();
    let path = std::env::temp_dir().join(format!(
        "strata-serve-http-{}-{:?}.safetensors",
        std::process::id(),
        std::thread::current().id()
    ));
    model.save(&path).unwrap();
    let classifier = Classifier::load(&path, Preprocess::Digit).unwrap();
    std::fs::remove_file(&path).unwrap();
    let config = ServerConfig {
        body_limit: LIMIT,
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    };
    Server::bind("127.0.0.1:0", classifier, config)
        .unwrap()
        .spawn()
        .unwrap()
}

/// Sends `head` (without the blank line) and `body`, returns status and body.
fn exchange(address: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    stream.write_all(body).unwrap();
    read_response(&mut stream)
}

fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

fn post(address: SocketAddr, content_type: &str, body: &[u8]) -> (u16, String) {
    let head = format!(
        "POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\nContent-Length: {}",
        body.len()
    );
    exchange(address, &head, body)
}

fn get(address: SocketAddr, path: &str) -> (u16, String) {
    exchange(address, &format!("GET {path} HTTP/1.1\r\nHost: test"), b"")
}

/// The error JSON's status and message.
fn error(status: u16, body: &str) -> (u16, String) {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(value["status"], status, "{body}");
    (status, value["error"].as_str().unwrap().to_string())
}

fn png(width: u32, height: u32, stroke: bool) -> Vec<u8> {
    let mut image = image::GrayImage::from_pixel(width, height, image::Luma([255]));
    if stroke {
        for y in height / 5..height * 4 / 5 {
            for x in width * 2 / 5..width * 3 / 5 {
                image.put_pixel(x, y, image::Luma([0]));
            }
        }
    }
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

fn assert_serving(address: SocketAddr) {
    let (status, body) = post(address, "image/png", &png(60, 60, true));
    assert_eq!(status, 200, "{body}");
    let value: Value = serde_json::from_str(&body).unwrap();
    let p: Vec<f64> = value["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(p.len(), 10);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4);
    let class = value["class"].as_u64().unwrap();
    assert_eq!(value["label"], format!("digit {class}"));
}

#[test]
fn pages_health_info_and_predictions() {
    let server = start();
    let address = server.local_addr();
    let (status, page) = get(address, "/");
    assert_eq!(status, 200);
    assert!(page.contains("<canvas id=\"pad\""));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "nothing from elsewhere"
    );
    for asset in ["/app.js", "/style.css"] {
        let (status, body) = get(address, asset);
        assert_eq!(status, 200, "{asset}");
        assert!(
            !body.contains("https://"),
            "{asset} fetches nothing from elsewhere"
        );
    }
    assert_eq!(get(address, "/healthz"), (200, r#"{"status":"ok"}"#.into()));
    let (status, info) = get(address, "/info");
    assert_eq!(status, 200);
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["class_names"][3], "digit 3");
    assert_eq!(info["input_shape"], serde_json::json!([1, 28, 28]));
    assert_serving(address);
    // Raw prepared pixels.
    let pixels = format!("{{\"pixels\": [{}]}}", vec!["0.5"; 784].join(","));
    let (status, body) = post(address, "application/json", pixels.as_bytes());
    assert_eq!(status, 200, "{body}");
    assert_eq!(error(404, &get(address, "/nothing").1).0, 404);
    server.shutdown().unwrap();
}

#[test]
fn bad_requests_get_clear_errors_and_the_server_keeps_serving() {
    let server = start();
    let address = server.local_addr();
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        ("empty body", "image/png", Vec::new(), 400, "empty"),
        (
            "a text file",
            "text/plain",
            b"just some text\n".to_vec(),
            415,
            "content type",
        ),
        (
            "text sent as PNG",
            "image/png",
            b"just some text\n".to_vec(),
            415,
            "not an image",
        ),
        (
            "a huge PNG",
            "image/png",
            png(10_000, 10_000, false),
            413,
            "10000×10000",
        ),
        (
            "a blank PNG",
            "image/png",
            png(40, 40, false),
            422,
            "no ink",
        ),
        (
            "malformed JSON",
            "application/json",
            b"{\"pixels\": [0.1,".to_vec(),
            400,
            "malformed JSON",
        ),
        (
            "JSON of the wrong kind",
            "application/json",
            b"[1, 2, 3]".to_vec(),
            400,
            "malformed JSON",
        ),
        (
            "too few pixels",
            "application/json",
            b"{\"pixels\": [0.1, 0.2]}".to_vec(),
            422,
            "expected 784 pixels",
        ),
    ];
    for (what, content_type, body, status, says) in cases {
        let (got, text) = post(address, content_type, &body);
        let (_, message) = error(status, &text);
        assert_eq!(got, status, "{what}: {text}");
        assert!(message.contains(says), "{what}: {message}");
    }
    // 50 MB announced: refused from the header, before the body is read.
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\nContent-Length: 50000000\r\n\r\n")
        .unwrap();
    stream.write_all(&[0; 65536]).unwrap();
    let (status, text) = read_response(&mut stream);
    assert_eq!(status, 413, "{text}");
    assert!(error(413, &text).1.contains("larger than 1048576 bytes"));
    // 50 MB chunked, without a length: cut off once past the limit.
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(
            b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        let chunk = [b"10000\r\n".as_slice(), &[7u8; 0x10000], b"\r\n"].concat();
        for _ in 0..(50_000_000 / 0x10000) {
            if writer.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n");
    });
    let (status, text) = read_response(&mut stream);
    assert_eq!(status, 413, "{text}");
    sender.join().unwrap();
    assert_serving(address);
    server.shutdown().unwrap();
}

#[test]
fn slow_clients_are_cut_off_while_others_are_served() {
    let server = start();
    let address = server.local_addr();
    // Slow loris: headers a byte at a time, never finished.
    let mut loris = TcpStream::connect(address).unwrap();
    loris
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    loris
        .write_all(b"POST /predict HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let started = Instant::now();
    let cut_off = loop {
        assert!(started.elapsed() < Duration::from_secs(10), "never cut off");
        if loris.write_all(b"X").is_err() {
            break started.elapsed();
        }
        let mut buffer = [0; 256];
        match loris.read(&mut buffer) {
            Ok(_) => break started.elapsed(), // closed (0) or answered: either ends it
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break started.elapsed(),
        }
        // Meanwhile, everyone else is served.
        assert_eq!(get(address, "/healthz").0, 200);
    };
    assert!(
        cut_off < Duration::from_secs(3),
        "cut off after {cut_off:?}"
    );
    // A body that stops halfway gets 408.
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n0123456789")
        .unwrap();
    let (status, text) = read_response(&mut stream);
    assert_eq!(error(408, &text).0, status, "{text}");
    assert_serving(address);
    server.shutdown().unwrap();
}

#[test]
fn shutdown_stops_accepting() {
    let server = start();
    let address = server.local_addr();
    assert_serving(address);
    server.shutdown().unwrap();
    assert!(
        TcpStream::connect(address).is_err(),
        "still accepting after shutdown"
    );
}
