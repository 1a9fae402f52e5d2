//! Open-loop HTTP/1.1 load generator (std only: threads and blocking sockets).
//!
//! ```text
//! cargo run --release --example loadgen -- \
//!     --url http://127.0.0.1:8080/auth/verify \
//!     --header 'Cookie: gatehouse_session=...' \
//!     --rate 5000 --duration 10 --connections 32
//! ```
//!
//! Requests follow a fixed schedule (request `i` is due at `start + i / rate`), spread
//! round-robin over keep-alive connections. Latency is measured from the time a request was
//! *due*, not from when it was actually sent, so a server that stalls is charged for every
//! request that queued up behind the stall (no coordinated omission). The last line is
//! machine readable: `RESULT rate=... p50_us=... p99_us=...`.

use std::error::Error;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

type BoxError = Box<dyn Error + Send + Sync>;

struct Args {
    host: String,
    addr: SocketAddr,
    path: String,
    headers: Vec<String>,
    rate: f64,
    duration: Duration,
    connections: usize,
    timeout: Duration,
}

const USAGE: &str = "usage: loadgen --url http://HOST:PORT/PATH [--header 'Name: value']... \
--rate REQ_PER_SEC --duration SECONDS [--connections N] [--timeout SECONDS]";

fn parse_args() -> Result<Args, BoxError> {
    let mut url = None;
    let mut headers = Vec::new();
    let mut rate = None;
    let mut duration = None;
    let mut connections = 16usize;
    let mut timeout = 5.0f64;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--url" => url = Some(value),
            "--header" | "-H" => headers.push(value),
            "--rate" => rate = Some(value.parse::<f64>()?),
            "--duration" => duration = Some(value.parse::<f64>()?),
            "--connections" | "-c" => connections = value.parse()?,
            "--timeout" => timeout = value.parse()?,
            other => return Err(format!("unknown argument {other}\n{USAGE}").into()),
        }
    }
    let url = url.ok_or(format!("--url is required\n{USAGE}"))?;
    let rate = rate.ok_or(format!("--rate is required\n{USAGE}"))?;
    let duration = duration.ok_or(format!("--duration is required\n{USAGE}"))?;
    if !(rate > 0.0 && rate.is_finite()) {
        return Err("--rate must be positive".into());
    }
    if !(duration > 0.0 && duration.is_finite()) {
        return Err("--duration must be positive".into());
    }
    if connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    for h in &headers {
        if !h.contains(':') || h.contains('\r') || h.contains('\n') {
            return Err(format!("bad header {h:?}: expected 'Name: value'").into());
        }
    }

    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs are supported")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = with_port
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| format!("cannot resolve {authority}"))?;
    Ok(Args {
        host: authority.to_string(),
        addr,
        path: path.to_string(),
        headers,
        rate,
        duration: Duration::from_secs_f64(duration),
        connections,
        timeout: Duration::from_secs_f64(timeout),
    })
}

#[derive(Default)]
struct Stats {
    latencies_us: Vec<u64>,
    ok: u64,
    non_2xx: u64,
    errors: u64,
    reconnects: u64,
}

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

fn connect(args: &Args) -> std::io::Result<Conn> {
    let stream = TcpStream::connect_timeout(&args.addr, args.timeout)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(args.timeout))?;
    stream.set_write_timeout(Some(args.timeout))?;
    let writer = stream.try_clone()?;
    Ok(Conn {
        reader: BufReader::with_capacity(16 * 1024, stream),
        writer,
    })
}

fn io_err(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads one response; returns (status, keep_alive).
fn read_response(
    reader: &mut BufReader<TcpStream>,
    line: &mut String,
) -> std::io::Result<(u16, bool)> {
    line.clear();
    if reader.read_line(line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io_err("bad status line"))?;
    let http10 = line.starts_with("HTTP/1.0");
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut keep_alive = !http10;
    loop {
        line.clear();
        if reader.read_line(line)? == 0 {
            return Err(io_err("eof in headers"));
        }
        let h = line.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = Some(value.parse().map_err(|_| io_err("bad content-length"))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                let v = value.to_ascii_lowercase();
                if v.contains("close") {
                    keep_alive = false;
                } else if v.contains("keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let no_body = status == 204 || status == 304 || (100..200).contains(&status);
    if no_body {
        return Ok((status, keep_alive));
    }
    if chunked {
        loop {
            line.clear();
            reader.read_line(line)?;
            let size_hex = line.trim().split(';').next().unwrap_or("");
            let size = u64::from_str_radix(size_hex, 16).map_err(|_| io_err("bad chunk size"))?;
            if size == 0 {
                // trailers until the empty line
                loop {
                    line.clear();
                    if reader.read_line(line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            std::io::copy(&mut reader.by_ref().take(size + 2), &mut std::io::sink())?;
        }
    } else if let Some(n) = content_length {
        let copied = std::io::copy(&mut reader.by_ref().take(n), &mut std::io::sink())?;
        if copied != n {
            return Err(io_err("short body"));
        }
    } else {
        // Body delimited by connection close.
        std::io::copy(reader, &mut std::io::sink())?;
        keep_alive = false;
    }
    Ok((status, keep_alive))
}

fn worker(args: Arc<Args>, request: Arc<Vec<u8>>, index: usize, start: Instant) -> Stats {
    let mut stats = Stats::default();
    let interval = 1.0 / args.rate;
    let total = (args.rate * args.duration.as_secs_f64()).floor() as u64;
    let mut conn: Option<Conn> = None;
    let mut line = String::with_capacity(256);
    let mut i = index as u64;
    while i < total {
        let due = start + Duration::from_secs_f64(i as f64 * interval);
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        i += args.connections as u64;

        let c = match conn.take() {
            Some(c) => c,
            None => match connect(&args) {
                Ok(c) => {
                    stats.reconnects += 1;
                    c
                }
                Err(_) => {
                    stats.errors += 1;
                    continue;
                }
            },
        };
        let mut c = c;
        let result = c
            .writer
            .write_all(&request)
            .and_then(|()| read_response(&mut c.reader, &mut line));
        match result {
            Ok((status, keep_alive)) => {
                let latency = due.elapsed().as_micros();
                stats
                    .latencies_us
                    .push(u64::try_from(latency).unwrap_or(u64::MAX));
                if (200..300).contains(&status) {
                    stats.ok += 1;
                } else {
                    stats.non_2xx += 1;
                }
                if keep_alive {
                    conn = Some(c);
                }
            }
            Err(_) => stats.errors += 1,
        }
    }
    stats
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() -> Result<(), BoxError> {
    let args = Arc::new(parse_args()?);
    let mut request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: gatehouse-loadgen\r\n",
        args.path, args.host
    );
    for h in &args.headers {
        request.push_str(h.trim());
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let request = Arc::new(request.into_bytes());

    println!(
        "loadgen: {} req/s for {:.1} s over {} connections to http://{}{}",
        args.rate,
        args.duration.as_secs_f64(),
        args.connections,
        args.host,
        args.path
    );
    // Give every thread time to start before the schedule begins.
    let start = Instant::now() + Duration::from_millis(100);
    let mut handles = Vec::with_capacity(args.connections);
    for index in 0..args.connections {
        let (a, r) = (Arc::clone(&args), Arc::clone(&request));
        let handle = thread::Builder::new()
            .name(format!("loadgen-{index}"))
            .stack_size(256 * 1024)
            .spawn(move || worker(a, r, index, start))?;
        handles.push(handle);
    }
    let mut all = Stats::default();
    for h in handles {
        let s = h.join().map_err(|_| "a worker thread panicked")?;
        all.latencies_us.extend_from_slice(&s.latencies_us);
        all.ok += s.ok;
        all.non_2xx += s.non_2xx;
        all.errors += s.errors;
        all.reconnects += s.reconnects;
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    let mut lat = all.latencies_us;
    lat.sort_unstable();
    let completed = lat.len() as u64;
    let achieved = completed as f64 / elapsed;
    let (p50, p90, p99, p999) = (
        percentile(&lat, 0.50),
        percentile(&lat, 0.90),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999),
    );
    let max = lat.last().copied().unwrap_or(0);

    println!(
        "requests: {completed} completed ({} 2xx, {} other status), {} errors, {} connections opened",
        all.ok, all.non_2xx, all.errors, all.reconnects
    );
    println!(
        "rate: target {:.0} req/s, achieved {achieved:.0} req/s over {elapsed:.2} s",
        args.rate
    );
    println!("latency from scheduled send time (us): p50 {p50}  p90 {p90}  p99 {p99}  p99.9 {p999}  max {max}");
    println!(
        "RESULT rate={achieved:.0} target_rate={:.0} requests={completed} non2xx={} errors={} p50_us={p50} p90_us={p90} p99_us={p99} p999_us={p999} max_us={max}",
        args.rate, all.non_2xx, all.errors
    );
    Ok(())
}
