//! What a run reports: the summary of an [`Outcome`](crate::load::Outcome) (throughput and
//! latency percentiles, serialised into the raw JSON), AWS error codes pulled from failed
//! responses, and the number formats the Markdown tables use.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::load::Outcome;

/// Throughput and latency of one measurement; latencies in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub ok: u64,
    pub errors: u64,
    pub elapsed_s: f64,
    pub throughput_rps: f64,
    /// The load generator's CPU use over the run, in CPUs (1.0 = one CPU busy throughout).
    pub client_cpus: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    /// Latency of the answers that were not a success (refusals).
    pub refused_p50_us: f64,
    pub refused_p99_us: f64,
    pub statuses: BTreeMap<String, u64>,
    pub first_error: Option<String>,
}

impl Summary {
    pub fn of(o: &Outcome) -> Self {
        let us = |q: f64| o.latency.value_at_quantile(q) as f64 / 1000.0;
        let secs = o.elapsed.as_secs_f64();
        Summary {
            ok: o.ok,
            errors: o.errors,
            elapsed_s: secs,
            throughput_rps: if secs > 0.0 { o.ok as f64 / secs } else { 0.0 },
            client_cpus: if secs > 0.0 {
                o.client_cpu.as_secs_f64() / secs
            } else {
                0.0
            },
            mean_us: o.latency.mean() / 1000.0,
            p50_us: us(0.5),
            p90_us: us(0.9),
            p99_us: us(0.99),
            p999_us: us(0.999),
            max_us: o.latency.max() as f64 / 1000.0,
            refused_p50_us: o.refused_latency.value_at_quantile(0.5) as f64 / 1000.0,
            refused_p99_us: o.refused_latency.value_at_quantile(0.99) as f64 / 1000.0,
            statuses: o.statuses.clone(),
            first_error: o.first_error.clone(),
        }
    }
}

/// The AWS error code of a failed response, from whichever place its protocol puts it:
/// `x-amzn-ErrorType` (rest-json), `<Code>` (query/XML), `__type` (JSON), else the start of
/// the body.
pub fn error_code(headers: &http::HeaderMap, body: &[u8]) -> String {
    if let Some(t) = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
    {
        return t.split(':').next().unwrap_or(t).to_owned();
    }
    let text = String::from_utf8_lossy(body);
    if let Some(code) = between(&text, "<Code>", "</Code>") {
        return code.to_owned();
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        for key in ["__type", "Type", "code", "message", "Message"] {
            if let Some(s) = v.get(key).and_then(|s| s.as_str()) {
                return s.rsplit('#').next().unwrap_or(s).to_owned();
            }
        }
    }
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(80)
        .collect()
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let len = s[start..].find(close)?;
    Some(&s[start..start + len])
}

/// Marks a rate the load generator rather than the server limited (see [`rate_of`]).
pub const CLIENT_BOUND_MARK: char = '†';

/// The footnote explaining [`CLIENT_BOUND_MARK`].
pub const CLIENT_BOUND_NOTE: &str = "† the load generator kept ≥ 90 % of its CPU busy in this \
     measurement: it, not the server, may have set the rate.";

/// A measurement's throughput, marked when the load generator kept ≥ 90 % of the CPUs it may
/// use busy (pinned to one CPU by `bench/run`, that is one CPU).
pub fn rate_of(s: &Summary) -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    if s.client_cpus >= 0.9 * cpus {
        format!("{}{CLIENT_BOUND_MARK}", rate(s.throughput_rps))
    } else {
        rate(s.throughput_rps)
    }
}

/// Requests per second, with thousands separated: `12,345/s`.
pub fn rate(rps: f64) -> String {
    if rps >= 100.0 {
        format!("{}/s", thousands(rps.round() as u64))
    } else {
        format!("{rps:.1}/s")
    }
}

/// A latency given in microseconds, in the unit that reads best.
pub fn latency(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.0} ms", us / 1000.0)
    } else if us >= 1000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

/// `p50 / p99 (n=…)` of a measurement.
pub fn percentiles(s: &Summary) -> String {
    format!(
        "{} / {} (n={})",
        latency(s.p50_us),
        latency(s.p99_us),
        thousands(s.ok)
    )
}

/// `a / b` as `12.3×`, or `—` when `b` is zero.
pub fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        let r = a / b;
        if r >= 10.0 {
            format!("{r:.0}×")
        } else if r >= 0.1 {
            format!("{r:.2}×")
        } else {
            format!("{r:.3}×")
        }
    } else {
        "—".to_owned()
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_come_from_each_protocols_place() {
        let mut h = http::HeaderMap::new();
        assert_eq!(
            error_code(&h, b"<Response><Errors><Error><Code>InvalidAction</Code>"),
            "InvalidAction"
        );
        assert_eq!(
            error_code(&h, br#"{"__type":"com.amazon#ThrottlingException"}"#),
            "ThrottlingException"
        );
        h.insert(
            "x-amzn-errortype",
            http::HeaderValue::from_static("ResourceNotFoundException:http://x/"),
        );
        assert_eq!(error_code(&h, b""), "ResourceNotFoundException");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(rate(12345.4), "12,345/s");
        assert_eq!(rate(42.24), "42.2/s");
        assert_eq!(latency(55.4), "55 µs");
        assert_eq!(latency(1234.0), "1.23 ms");
        assert_eq!(ratio(20.0, 1.0), "20×");
        assert_eq!(ratio(1.0, 20.0), "0.050×");
        assert_eq!(ratio(1.0, 0.0), "—");
    }

    #[test]
    fn summary_percentiles_are_in_microseconds() {
        let mut o = Outcome::new().expect("outcome");
        for v in 1..=100u64 {
            o.latency.record(v * 1000).expect("record");
        }
        o.ok = 100;
        o.elapsed = std::time::Duration::from_secs(2);
        let s = o.summary();
        assert!((s.p50_us - 50.0).abs() < 0.1, "{}", s.p50_us);
        assert!((s.p99_us - 99.0).abs() < 0.1, "{}", s.p99_us);
        assert!((s.throughput_rps - 50.0).abs() < 1e-9);
    }
}
