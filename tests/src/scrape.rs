//! Reading the programs' metrics ports: an HTTP/1.0 GET of `/metrics` (or any
//! path) and lookups in the Prometheus text format.

use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The body of `GET <path>` on `127.0.0.1:<port>` (bounded by 10 s); fails on a
/// status other than 200.
pub async fn get(port: u16, path: &str) -> anyhow::Result<String> {
    let (status, head, body) = request(port, path, &[]).await?;
    if status != 200 {
        bail!("GET {path}: {head}");
    }
    Ok(body)
}

/// `GET <path>` on `127.0.0.1:<port>` with `headers` (bounded by 10 s): the
/// status code, the status line and the body, whatever the status.
pub async fn request(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<(u16, String, String)> {
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let work = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n{extra}\r\n").as_bytes())
            .await?;
        let mut raw = String::new();
        s.read_to_string(&mut raw).await?;
        Ok::<_, anyhow::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .context("metrics port did not answer within 10 s")??;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .with_context(|| format!("no HTTP head in {raw:?}"))?;
    let line = head.lines().next().unwrap_or("").to_string();
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("no status in {line:?}"))?;
    Ok((status, line, body.to_string()))
}

/// One sample line: name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, k: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Every sample of a Prometheus text exposition (comments skipped). Fails on a
/// line that does not parse.
pub fn parse(text: &str) -> anyhow::Result<Vec<Sample>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .with_context(|| format!("no value: {line}"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().with_context(|| format!("bad value: {line}"))?,
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), Vec::new()),
            Some((n, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .with_context(|| format!("unclosed labels: {line}"))?;
                (n.to_string(), parse_labels(body)?)
            }
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            bail!("bad metric name: {line}");
        }
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    Ok(out)
}

fn parse_labels(body: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut v = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (k, after) = rest
            .split_once("=\"")
            .with_context(|| format!("bad labels: {body}"))?;
        let mut val = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        val.push(match e {
                            'n' => '\n',
                            other => other,
                        });
                    }
                }
                '"' => {
                    end = Some(i);
                    break;
                }
                c => val.push(c),
            }
        }
        let end = end.with_context(|| format!("unclosed label value: {body}"))?;
        v.push((k.trim_start_matches(',').to_string(), val));
        rest = after[end + 1..].trim_start_matches(',');
    }
    Ok(v)
}

/// The sum of the samples named `name` whose labels include all of `labels`.
pub fn sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .map(|s| s.value)
        .sum()
}

/// Whether a sample named `name` exists.
pub fn has(samples: &[Sample], name: &str) -> bool {
    samples.iter().any(|s| s.name == name)
}

/// `GET /metrics`, parsed.
pub async fn metrics(port: u16) -> anyhow::Result<Vec<Sample>> {
    parse(&get(port, "/metrics").await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_text_format() {
        let s = super::parse(
            "# HELP x y\n# TYPE x counter\nx{a=\"1\",b=\"q\\\"z\"} 3\ny 2.5\nz_bucket{le=\"+Inf\"} 4\n",
        )
        .unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].label("b"), Some("q\"z"));
        assert_eq!(super::sum(&s, "x", &[("a", "1")]), 3.0);
        assert_eq!(s[2].label("le"), Some("+Inf"));
    }
}
