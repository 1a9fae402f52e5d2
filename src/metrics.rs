//! Prometheus metrics. Labels are bounded: routes are match patterns (never raw paths),
//! so a scanner cannot blow up the series count.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LoginLabels {
    pub method: &'static str,
    pub result: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub logins: Family<LoginLabels, Counter>,
    cache_hits: Gauge,
    cache_misses: Gauge,
    cache_entries: Gauge,
}

fn latency_histogram() -> Histogram {
    // 50 µs … ~1.6 s: forward auth lives at the low end, logins (argon2) at the high end.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.000_05, 2.0, 16,
    ))
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("gatehouse");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let logins = Family::<LoginLabels, Counter>::default();
        let (cache_hits, cache_misses, cache_entries) =
            (Gauge::default(), Gauge::default(), Gauge::default());
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "logins",
            "Login attempts by method and result",
            logins.clone(),
        );
        registry.register(
            "session_cache_hits",
            "Forward-auth answers served from the session cache",
            cache_hits.clone(),
        );
        registry.register(
            "session_cache_misses",
            "Forward-auth lookups that had to verify and ask the store",
            cache_misses.clone(),
        );
        registry.register(
            "session_cache_entries",
            "Tokens currently cached",
            cache_entries.clone(),
        );
        Arc::new(Self {
            registry,
            requests,
            latency,
            logins,
            cache_hits,
            cache_misses,
            cache_entries,
        })
    }

    pub fn login(&self, method: &'static str, result: &'static str) {
        self.logins
            .get_or_create(&LoginLabels { method, result })
            .inc();
    }

    /// Renders the text exposition format, refreshing the cache gauges first.
    pub fn render(&self, cache: &crate::session::cache::SessionCache) -> String {
        let as_gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.cache_hits.set(as_gauge(cache.hits()));
        self.cache_misses.set(as_gauge(cache.misses()));
        self.cache_entries.set(as_gauge(cache.len() as u64));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
