//! Live load of each gateway for the console: its `/metrics` read at every page
//! refresh, and the rate since the previous reading — statements per second and
//! their mean latency — plus its client connections. The previous readings are
//! the console's only state.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::time::Instant;

/// What one `/metrics` reading holds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    pub statements: f64,
    pub seconds_sum: f64,
    pub seconds_count: f64,
    pub clients: f64,
}

/// A gateway's load as the page shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Load {
    /// Statements per second since the previous reading (None: first reading).
    pub qps: Option<f64>,
    /// Mean statement latency over that span, milliseconds.
    pub avg_ms: Option<f64>,
    pub clients: u64,
}

/// Previous readings by metrics address.
#[derive(Default)]
pub struct Rates(Mutex<HashMap<String, (Instant, Reading)>>);

impl Rates {
    /// Reads `addr`'s metrics now and turns them into a [`Load`]; an error text when
    /// the gateway does not answer.
    pub async fn load(&self, addr: &str) -> Result<Load, String> {
        let body = crate::cli::digests::get(addr, "/metrics")
            .await
            .map_err(|e| format!("{e:#}"))?;
        let now = Instant::now();
        let cur = parse(&body);
        let prev = self
            .0
            .lock()
            .expect("rates")
            .insert(addr.to_string(), (now, cur));
        Ok(rate(prev, (now, cur)))
    }
}

/// The load between two readings.
fn rate(prev: Option<(Instant, Reading)>, (now, cur): (Instant, Reading)) -> Load {
    let mut load = Load {
        clients: cur.clients.max(0.0) as u64,
        ..Default::default()
    };
    if let Some((then, p)) = prev {
        let secs = now.duration_since(then).as_secs_f64();
        let n = cur.statements - p.statements;
        if secs > 0.0 && n >= 0.0 {
            load.qps = Some(n / secs);
            let count = cur.seconds_count - p.seconds_count;
            load.avg_ms = (count > 0.0).then(|| (cur.seconds_sum - p.seconds_sum) / count * 1000.0);
        }
    }
    load
}

/// Sums the series the console reads out of a Prometheus text page.
pub fn parse(text: &str) -> Reading {
    let mut r = Reading::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else {
            continue;
        };
        let name = series.split('{').next().unwrap_or(series);
        match name {
            "setwise_proxy_statements_total" => r.statements += v,
            "setwise_proxy_statement_seconds_sum" => r.seconds_sum += v,
            "setwise_proxy_statement_seconds_count" => r.seconds_count += v,
            "setwise_proxy_client_connections" => r.clients += v,
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rates_from_two_readings() {
        let page = |n: u64, sum: f64| {
            format!(
                "# TYPE setwise_proxy_statements_total counter\n\
                 setwise_proxy_statements_total{{kind=\"select\",db=\"a\"}} {n}\n\
                 setwise_proxy_statements_total{{kind=\"insert\",db=\"a\"}} 10\n\
                 setwise_proxy_statement_seconds_sum{{kind=\"select\"}} {sum}\n\
                 setwise_proxy_statement_seconds_count{{kind=\"select\"}} {}\n\
                 setwise_proxy_client_connections 3\n",
                n + 10
            )
        };
        let t0 = Instant::now();
        let a = parse(&page(90, 0.5));
        assert_eq!(a.statements, 100.0);
        assert_eq!(a.clients, 3.0);
        let first = rate(None, (t0, a));
        assert_eq!(first.qps, None);
        let b = parse(&page(290, 0.9));
        let l = rate(Some((t0, a)), (t0 + Duration::from_secs(2), b));
        assert_eq!(l.qps, Some(100.0));
        assert!((l.avg_ms.unwrap() - 2.0).abs() < 1e-9, "{l:?}");
        assert_eq!(l.clients, 3);
    }
}
