//! Reading what a reverse proxy says about the original request.
//!
//! Rules (SECURITY-CHECKLIST T36/T37): forwarded headers are ignored unless the *socket*
//! peer is inside `trusted_proxies` (default: nobody); a header that appears more than once
//! is ambiguous and ignored; values must be well formed (scheme http/https, a plain host,
//! a path starting with `/`). Names are compared case-insensitively by the HTTP layer; the
//! underscore spellings (`X_Forwarded_Host`) are different headers and never read.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::tenant::domain::normalize_host;

/// The URL the user asked the proxy for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalRequest {
    pub proto: String,
    pub host: String,
    pub uri: String,
}

impl OriginalRequest {
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.proto, self.host, self.uri)
    }
}

pub fn is_trusted(peer: Option<IpAddr>, trusted: &[IpNet]) -> bool {
    peer.is_some_and(|ip| {
        let ip = canonical(ip);
        trusted.iter().any(|net| net.contains(&ip))
    })
}

/// IPv4-mapped IPv6 peers (`::ffff:10.0.0.1`) are compared as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A header lookup: all values of one (case-insensitive) header name.
pub trait HeaderSource {
    fn values(&self, name: &str) -> Vec<&str>;
}

fn single<'a>(headers: &'a impl HeaderSource, name: &str) -> Option<&'a str> {
    match headers.values(name).as_slice() {
        [one] => Some(one.trim()),
        _ => None,
    }
}

/// The original request, when a trusted proxy described it completely and unambiguously.
pub fn original_request(
    peer: Option<IpAddr>,
    trusted: &[IpNet],
    headers: &impl HeaderSource,
) -> Option<OriginalRequest> {
    if !is_trusted(peer, trusted) {
        return None;
    }
    let (proto, host) = match (
        single(headers, "x-forwarded-proto"),
        single(headers, "x-forwarded-host"),
    ) {
        (Some(p), Some(h)) => (p.to_owned(), h.to_owned()),
        _ => from_rfc7239(single(headers, "forwarded")?)?,
    };
    let uri = single(headers, "x-forwarded-uri")
        .or_else(|| single(headers, "x-original-uri"))
        .unwrap_or("/");
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "http" | "https") {
        return None;
    }
    if !uri.starts_with('/')
        || uri.starts_with("//")
        || uri.chars().any(|c| c.is_control() || c == '\\')
    {
        return None;
    }
    Some(OriginalRequest {
        proto,
        host: valid_host_port(&host)?,
        uri: uri.to_owned(),
    })
}

/// `Forwarded: for=…;proto=https;host=app.example.com` (first element only).
fn from_rfc7239(value: &str) -> Option<(String, String)> {
    let first = value.split(',').next()?;
    let mut proto = None;
    let mut host = None;
    for pair in first.split(';') {
        let (k, v) = pair.split_once('=')?;
        let v = v.trim().trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "proto" => proto = Some(v.to_owned()),
            "host" => host = Some(v.to_owned()),
            _ => {}
        }
    }
    Some((proto?, host?))
}

fn valid_host_port(value: &str) -> Option<String> {
    let (host, port) = match value.rsplit_once(':') {
        Some((h, _)) if !h.ends_with(']') && h.contains(':') => (value, None), // bare IPv6
        Some((h, p)) => (h, Some(p)),
        None => (value, None),
    };
    let host = normalize_host(host).ok()?;
    match port {
        Some(p) => {
            let port: u16 = p.parse().ok()?;
            if host.contains(':') {
                Some(format!("[{host}]:{port}"))
            } else {
                Some(format!("{host}:{port}"))
            }
        }
        None => Some(host),
    }
}

/// The client's address: the socket peer, or — behind trusted proxies — the right-most
/// X-Forwarded-For entry that is not itself a trusted proxy.
pub fn client_ip(
    peer: Option<IpAddr>,
    trusted: &[IpNet],
    headers: &impl HeaderSource,
) -> Option<IpAddr> {
    if !is_trusted(peer, trusted) {
        return peer.map(canonical);
    }
    let chain: Vec<IpAddr> = headers
        .values("x-forwarded-for")
        .iter()
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .map(canonical)
        .collect();
    chain
        .into_iter()
        .rev()
        .find(|ip| !trusted.iter().any(|n| n.contains(ip)))
        .or(peer.map(canonical))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct H(Vec<(&'static str, &'static str)>);
    impl HeaderSource for H {
        fn values(&self, name: &str) -> Vec<&str> {
            self.0
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
                .collect()
        }
    }

    fn trusted() -> Vec<IpNet> {
        vec!["10.0.0.0/8".parse().unwrap()]
    }

    fn fwd() -> H {
        H(vec![
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "app.example.com"),
            ("X-Forwarded-Uri", "/a?b=c"),
        ])
    }

    /// T36: the same headers from an untrusted peer are ignored.
    #[test]
    fn t36_untrusted_peers_are_not_believed() {
        let peer = Some("192.0.2.1".parse().unwrap());
        assert_eq!(original_request(peer, &trusted(), &fwd()), None);
        assert_eq!(original_request(peer, &[], &fwd()), None);
        let proxy = Some("10.1.2.3".parse().unwrap());
        assert_eq!(
            original_request(proxy, &trusted(), &fwd()).unwrap().url(),
            "https://app.example.com/a?b=c"
        );
        let mapped = Some("::ffff:10.1.2.3".parse().unwrap());
        assert!(original_request(mapped, &trusted(), &fwd()).is_some());
    }

    /// T37: duplicates and odd spellings do not sneak a value through.
    #[test]
    fn t37_duplicates_and_underscored_names_are_ignored() {
        let proxy = Some("10.1.2.3".parse().unwrap());
        let dup = H(vec![
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "app.example.com"),
            ("x-forwarded-host", "evil.com"),
        ]);
        assert_eq!(original_request(proxy, &trusted(), &dup), None);
        let underscored = H(vec![
            ("X_Forwarded_Proto", "https"),
            ("X_Forwarded_Host", "evil.com"),
        ]);
        assert_eq!(original_request(proxy, &trusted(), &underscored), None);
        let bad_host = H(vec![
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.com/x"),
        ]);
        assert_eq!(original_request(proxy, &trusted(), &bad_host), None);
        let bad_uri = H(vec![
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "app.example.com"),
            ("X-Forwarded-Uri", "//evil.com"),
        ]);
        assert_eq!(original_request(proxy, &trusted(), &bad_uri), None);
    }

    #[test]
    fn rfc7239_forwarded_is_understood() {
        let proxy = Some("10.1.2.3".parse().unwrap());
        let h = H(vec![(
            "Forwarded",
            "for=192.0.2.60;proto=https;host=\"app.example.com:8443\"",
        )]);
        assert_eq!(
            original_request(proxy, &trusted(), &h).unwrap().url(),
            "https://app.example.com:8443/"
        );
    }

    #[test]
    fn client_ip_skips_trusted_hops_only_behind_a_trusted_peer() {
        let h = H(vec![("X-Forwarded-For", "198.51.100.7, 10.0.0.5")]);
        let proxy = Some("10.1.2.3".parse().unwrap());
        assert_eq!(
            client_ip(proxy, &trusted(), &h),
            Some("198.51.100.7".parse().unwrap())
        );
        let direct = Some("203.0.113.9".parse().unwrap());
        assert_eq!(client_ip(direct, &trusted(), &h), direct);
    }
}
