//! ACS throughput benchmark driver.
//!
//! ```text
//! saml_acs_bench fixtures --acs URL --audience URL --email ADDR --count N --out DIR
//!     writes DIR/idp-cert.pem and N IdP-initiated Responses signed by xmlsec1, each with
//!     its own assertion ID, as ready-to-POST form bodies (DIR/NNNNN.form)
//! saml_acs_bench post --url URL --dir DIR --connections C
//!     POSTs every form once over C keep-alive connections; prints accepted (303) per second
//! ```
//!
//! The signed responses come from the same xmlsec1-based test IdP the integration tests
//! use, so the benchmark measures exactly the validated path.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark tooling: fail loudly

#[path = "../tests/integration/saml_idp.rs"]
#[allow(dead_code)]
mod saml_idp;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Instant;

fn arg(args: &[String], name: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| panic!("missing {name}"))
}

fn fixtures(args: &[String]) {
    let (acs, audience, email) = (
        arg(args, "--acs"),
        arg(args, "--audience"),
        arg(args, "--email"),
    );
    let count: usize = arg(args, "--count").parse().unwrap();
    let out = PathBuf::from(arg(args, "--out"));
    std::fs::create_dir_all(&out).unwrap();
    let idp = std::sync::Arc::new(saml_idp::TestIdp::new("https://bench-idp.example/metadata"));
    std::fs::write(out.join("idp-cert.pem"), &idp.cert_pem).unwrap();
    let threads = 4;
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (idp, acs, audience, email, out) = (
                idp.clone(),
                acs.clone(),
                audience.clone(),
                email.clone(),
                out.clone(),
            );
            s.spawn(move || {
                for i in (t..count).step_by(threads) {
                    let encoded = idp.response(&saml_idp::Resp::new(&acs, &audience, None, &email));
                    let body: String = url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("SAMLResponse", &encoded)
                        .append_pair("RelayState", "")
                        .finish();
                    std::fs::write(out.join(format!("{i:06}.form")), body).unwrap();
                }
            });
        }
    });
    eprintln!(
        "signed {count} responses in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Sends one POST and returns the status code.
fn post_once(stream: &mut BufReader<TcpStream>, host: &str, path: &str, body: &[u8]) -> u16 {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // One write per request: split writes meet Nagle + delayed ACK and cost ~40 ms each.
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    stream.get_mut().write_all(&request).unwrap();
    let mut status_line = String::new();
    stream.read_line(&mut status_line).unwrap();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut sink = vec![0u8; length];
    stream.read_exact(&mut sink).unwrap();
    status
}

fn post(args: &[String]) {
    let url = url::Url::parse(&arg(args, "--url")).unwrap();
    let dir = PathBuf::from(arg(args, "--dir"));
    let connections: usize = arg(args, "--connections").parse().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "form"))
        .collect();
    files.sort();
    let bodies: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let host = format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap()
    );
    let path = url.path().to_owned();
    let started = Instant::now();
    let results: Vec<(usize, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..connections)
            .map(|c| {
                let (bodies, host, path) = (&bodies, host.clone(), path.clone());
                s.spawn(move || {
                    let socket = TcpStream::connect(&host).unwrap();
                    socket.set_nodelay(true).unwrap();
                    let mut stream = BufReader::new(socket);
                    let (mut ok, mut other) = (0, 0);
                    for body in bodies.iter().skip(c).step_by(connections) {
                        if post_once(&mut stream, &host, &path, body) == 303 {
                            ok += 1;
                        } else {
                            other += 1;
                        }
                    }
                    (ok, other)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let secs = started.elapsed().as_secs_f64();
    let ok: usize = results.iter().map(|r| r.0).sum();
    let other: usize = results.iter().map(|r| r.1).sum();
    println!(
        "RESULT accepted={ok} other={other} secs={secs:.2} rate={:.0}",
        ok as f64 / secs
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("fixtures") => fixtures(&args),
        Some("post") => post(&args),
        _ => eprintln!("usage: saml_acs_bench fixtures|post …"),
    }
}
