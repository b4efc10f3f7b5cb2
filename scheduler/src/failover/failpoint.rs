//! Test hooks: `SETWISE_FAILOVER_PAUSE=fenced=3000,promoted=3000` makes a failover
//! driver sleep that many milliseconds right after it recorded that phase, so a
//! test can kill the leader at a chosen point of a real failover (the next leader
//! must carry the operation on from the record). Unset in production: no effect.

use std::time::Duration;

use topo::FailoverPhase;

/// The environment variable read once per pause point.
pub const ENV: &str = "SETWISE_FAILOVER_PAUSE";

/// The pause asked for after `phase` in `spec` (`phase=ms` pairs, comma separated).
pub fn pause_in(spec: &str, phase: FailoverPhase) -> Option<Duration> {
    let want = format!("{phase:?}").to_ascii_lowercase();
    spec.split(',').find_map(|pair| {
        let (name, ms) = pair.split_once('=')?;
        (name.trim().eq_ignore_ascii_case(&want))
            .then(|| ms.trim().parse().ok().map(Duration::from_millis))
            .flatten()
    })
}

/// Sleeps when [`ENV`] asks for a pause after `phase`.
pub async fn after(phase: FailoverPhase) {
    let Ok(spec) = std::env::var(ENV) else {
        return;
    };
    if let Some(d) = pause_in(&spec, phase) {
        tracing::warn!(
            ?phase,
            ms = d.as_millis() as u64,
            "{ENV}: pausing the failover"
        );
        tokio::time::sleep(d).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec() {
        let s = "fenced=3000, promoted = 50";
        assert_eq!(
            pause_in(s, FailoverPhase::Fenced),
            Some(Duration::from_millis(3000))
        );
        assert_eq!(
            pause_in(s, FailoverPhase::Promoted),
            Some(Duration::from_millis(50))
        );
        assert_eq!(pause_in(s, FailoverPhase::Elected), None);
        assert_eq!(pause_in("fenced=x", FailoverPhase::Fenced), None);
    }
}
