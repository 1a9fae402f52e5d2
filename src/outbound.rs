//! Fetching a URL an admin typed (IdP metadata) without turning the gateway into a proxy
//! into its own network (SSRF, SECURITY-CHECKLIST T29): https only; every address the name
//! resolves to must be public, and the connection is pinned to those addresses so a second
//! DNS answer cannot swap in a private one (rebinding); redirects are followed by hand, each
//! hop checked the same way; the body is capped while it streams in.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use url::{Host, Url};

pub const MAX_BODY: usize = 1024 * 1024;
const MAX_REDIRECTS: usize = 3;
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    /// Allow plain http to 127.0.0.1/::1/localhost (tests and the local demo only).
    pub allow_loopback: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    #[error("`{0}` is not a URL")]
    NotAUrl(String),
    #[error("only https:// URLs are fetched")]
    NotHttps,
    #[error("URLs with a user name or password are not fetched")]
    Credentials,
    #[error("{host} resolves to {addr}, a private, loopback or reserved address; metadata is only fetched from public addresses")]
    PrivateAddress { host: String, addr: IpAddr },
    #[error("could not resolve {0}")]
    Resolve(String),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("redirect without a usable Location")]
    BadRedirect,
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the document is larger than {} KiB", MAX_BODY / 1024)]
    TooLarge,
    #[error("the document is not UTF-8 text")]
    NotText,
    #[error("request failed: {0}")]
    Transport(String),
}

/// Whether `ip` is an address on the public internet. Everything else (loopback, RFC 1918,
/// CGNAT, link-local incl. cloud metadata at 169.254.169.254, ULA, multicast,
/// documentation and reserved ranges, and IPv6 forms embedding such an IPv4) is refused.
pub fn is_public(ip: IpAddr) -> bool {
    const BLOCKED: &[&str] = &[
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "100::/64",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    ];
    if let IpAddr::V6(v6) = ip {
        // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible and NAT64 (64:ff9b::/96) addresses
        // reach the embedded IPv4 address: judge that one.
        let seg = v6.segments();
        let embedded = v6.to_ipv4_mapped().or_else(|| {
            let nat64 = seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0];
            let compatible = seg[..6] == [0, 0, 0, 0, 0, 0] && (seg[6] != 0 || seg[7] > 1);
            (nat64 || compatible).then(|| {
                let [.., a, b, c, d] = v6.octets();
                std::net::Ipv4Addr::new(a, b, c, d)
            })
        });
        if let Some(v4) = embedded {
            return is_public(IpAddr::V4(v4));
        }
    }
    !BLOCKED.iter().any(|net| {
        net.parse::<IpNet>()
            .map(|n| n.contains(&ip))
            .unwrap_or(true)
    })
}

fn check_url(url: &Url, policy: Policy) -> Result<(), FetchError> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::Credentials);
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if policy.allow_loopback && is_loopback_host(url) => Ok(()),
        _ => Err(FetchError::NotHttps),
    }
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn allowed(ip: IpAddr, policy: Policy) -> bool {
    is_public(ip) || (policy.allow_loopback && ip.is_loopback())
}

/// Resolves the URL's host and checks every address; returns the addresses to pin.
async fn resolve(url: &Url, policy: Policy) -> Result<Vec<SocketAddr>, FetchError> {
    let port = url.port_or_known_default().unwrap_or(443);
    let host = url.host_str().unwrap_or_default().to_owned();
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(Host::Domain(d)) => tokio::net::lookup_host((d, port))
            .await
            .map_err(|_| FetchError::Resolve(host.clone()))?
            .collect(),
        None => return Err(FetchError::NotAUrl(url.to_string())),
    };
    if addrs.is_empty() {
        return Err(FetchError::Resolve(host));
    }
    // One bad address is enough to refuse: the connector may pick any of them.
    if let Some(bad) = addrs.iter().find(|a| !allowed(a.ip(), policy)) {
        return Err(FetchError::PrivateAddress {
            host,
            addr: bad.ip(),
        });
    }
    Ok(addrs)
}

/// GETs `raw_url` under the rules above and returns the body as text.
pub async fn fetch_text(raw_url: &str, accept: &str, policy: Policy) -> Result<String, FetchError> {
    let mut url =
        Url::parse(raw_url.trim()).map_err(|_| FetchError::NotAUrl(raw_url.to_owned()))?;
    for _ in 0..=MAX_REDIRECTS {
        check_url(&url, policy)?;
        let addrs = resolve(&url, policy).await?;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .no_proxy();
        if let Some(Host::Domain(d)) = url.host() {
            builder = builder.resolve_to_addrs(d, &addrs);
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        let mut resp = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .map_err(|e| FetchError::Transport(e.without_url().to_string()))?;
        let status = resp.status();
        if status.is_redirection() {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or(FetchError::BadRedirect)?;
            url = url.join(location).map_err(|_| FetchError::BadRedirect)?;
            continue;
        }
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| FetchError::Transport(e.without_url().to_string()))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        return String::from_utf8(body).map_err(|_| FetchError::NotText);
    }
    Err(FetchError::TooManyRedirects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_private_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "::127.0.0.1",
        ] {
            assert!(
                !is_public(private.parse().unwrap()),
                "{private} is not public"
            );
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public} is public");
        }
    }

    #[test]
    fn only_https_unless_loopback_is_allowed() {
        let strict = Policy::default();
        let lax = Policy {
            allow_loopback: true,
        };
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            check_url(&url("http://idp.example.com/m"), strict),
            Err(FetchError::NotHttps)
        );
        assert_eq!(
            check_url(&url("http://127.0.0.1:9/m"), strict),
            Err(FetchError::NotHttps)
        );
        assert_eq!(check_url(&url("http://127.0.0.1:9/m"), lax), Ok(()));
        assert_eq!(
            check_url(&url("http://idp.example.com/m"), lax),
            Err(FetchError::NotHttps),
            "loopback permission does not open plain http elsewhere"
        );
        assert_eq!(
            check_url(&url("javascript:alert(1)"), lax),
            Err(FetchError::NotHttps)
        );
        assert_eq!(
            check_url(&url("https://u:p@idp.example.com/m"), strict),
            Err(FetchError::Credentials)
        );
    }

    #[tokio::test]
    async fn private_targets_are_refused_before_connecting() {
        let strict = Policy::default();
        for target in [
            "https://127.0.0.1/metadata",
            "https://localhost/metadata",
            "https://10.0.0.1/metadata",
            "https://[::1]/metadata",
            "https://169.254.169.254/latest/meta-data",
        ] {
            let err = fetch_text(target, "*/*", strict).await.unwrap_err();
            assert!(
                matches!(err, FetchError::PrivateAddress { .. }),
                "{target}: {err}"
            );
        }
    }
}
