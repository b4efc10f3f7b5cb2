//! How `setwise` shows something it waits for (a slot move, a switchover, later a DDL
//! task or a rebuild). On a terminal: one live line drawn by indicatif — a spinner,
//! a bar with percent and ETA when the total is known, and the caller's line (phase,
//! rows, lag...). Otherwise (a pipe, a log, CI): plain lines on stdout, one at each
//! phase change and at most one every [`PLAIN_EVERY`] while the figures move, so the
//! output stays readable and greppable.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::time::Instant;

/// Plain output: at most one line with an unchanged phase this often.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// What is counted, when the waited-for work has a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    pub done: u64,
    pub total: u64,
    /// Bytes (shown as KiB/MiB...) rather than rows.
    pub bytes: bool,
}

/// One reading of the work's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The phase's word (`copy`, `fenced`...): a change always prints a plain line.
    pub phase: String,
    /// The whole line, as printed in plain mode and beside the bar.
    pub line: String,
    /// Set when the phase has a known size: drives the bar and its ETA.
    pub amount: Option<Amount>,
}

/// A live line on a terminal, plain lines elsewhere.
pub struct Progress {
    out: Output,
    last_phase: Option<String>,
    last_line: String,
    last_print: Option<Instant>,
}

enum Output {
    Bar {
        bar: ProgressBar,
        sized: Option<bool>,
    },
    Plain(Box<dyn Write + Send>),
}

impl Progress {
    /// A bar when stdout is a terminal, plain lines otherwise.
    pub fn stdout() -> Self {
        if std::io::stdout().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
            bar.enable_steady_tick(Duration::from_millis(120));
            Self::with(Output::Bar { bar, sized: None })
        } else {
            Self::plain(Box::new(std::io::stdout()))
        }
    }

    /// The same on stderr: for commands whose stdout carries their result.
    pub fn stderr() -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
            Self::with(Output::Bar { bar, sized: None })
        } else {
            Self::plain(Box::new(std::io::stderr()))
        }
    }

    /// Plain lines to `w` (tests, or a caller that wants them elsewhere).
    pub fn plain(w: Box<dyn Write + Send>) -> Self {
        Self::with(Output::Plain(w))
    }

    fn with(out: Output) -> Self {
        Self {
            out,
            last_phase: None,
            last_line: String::new(),
            last_print: None,
        }
    }

    /// Shows `r`; `now` decides whether a plain line with an unchanged phase is due.
    pub fn show(&mut self, r: &Reading, now: Instant) {
        match &mut self.out {
            Output::Bar { bar, sized } => {
                let want_sized = r.amount.is_some_and(|a| a.total > 0);
                if *sized != Some(want_sized) {
                    bar.set_style(style(want_sized, r.amount.is_some_and(|a| a.bytes)));
                    *sized = Some(want_sized);
                }
                match r.amount {
                    Some(a) if want_sized => {
                        if bar.length() != Some(a.total) {
                            bar.set_length(a.total);
                        }
                        // A restarted count (a new phase) must not make indicatif's
                        // rate, and so the ETA, go wrong.
                        if a.done < bar.position() {
                            bar.reset_eta();
                        }
                        bar.set_position(a.done.min(a.total));
                    }
                    _ => {}
                }
                if r.line != self.last_line {
                    bar.set_message(r.line.clone());
                }
            }
            Output::Plain(w) => {
                let phase_changed = self.last_phase.as_deref() != Some(r.phase.as_str());
                let due = self
                    .last_print
                    .is_none_or(|t| now.duration_since(t) >= PLAIN_EVERY);
                if phase_changed || (r.line != self.last_line && due) {
                    let _ = writeln!(w, "{}", r.line);
                    let _ = w.flush();
                    self.last_print = Some(now);
                }
            }
        }
        self.last_phase = Some(r.phase.clone());
        self.last_line.clone_from(&r.line);
    }

    /// A message that must not be overwritten (a warning): above the bar, or on stderr.
    pub fn note(&mut self, msg: &str) {
        match &self.out {
            Output::Bar { bar, .. } => bar.suspend(|| eprintln!("{msg}")),
            Output::Plain(_) => eprintln!("{msg}"),
        }
    }

    /// Ends the live line, leaving its last state on the screen.
    pub fn finish(&mut self) {
        if let Output::Bar { bar, .. } = &self.out {
            bar.disable_steady_tick();
            bar.abandon();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

fn style(sized: bool, bytes: bool) -> ProgressStyle {
    let template = match (sized, bytes) {
        (true, true) => {
            "{spinner} [{bar:24}] {percent:>3}% {bytes}/{total_bytes} ETA {eta} {wide_msg}"
        }
        (true, false) => "{spinner} [{bar:24}] {percent:>3}% ETA {eta} {wide_msg}",
        (false, _) => "{spinner} {elapsed:>4} {wide_msg}",
    };
    ProgressStyle::with_template(template)
        .expect("progress template")
        .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn reading(phase: &str, line: &str) -> Reading {
        Reading {
            phase: phase.into(),
            line: line.into(),
            amount: None,
        }
    }

    #[test]
    fn plain_lines_at_phase_changes_and_now_and_then() {
        let sink = Sink::default();
        let mut p = Progress::plain(Box::new(sink.clone()));
        let t0 = Instant::now();
        p.show(&reading("copy", "copy 1"), t0);
        // Same phase, changed figures, too soon: nothing.
        p.show(&reading("copy", "copy 2"), t0 + Duration::from_secs(1));
        // Same phase, changed, due: printed.
        p.show(&reading("copy", "copy 3"), t0 + Duration::from_secs(6));
        // Unchanged line long after: nothing (no repeats).
        p.show(&reading("copy", "copy 3"), t0 + Duration::from_secs(20));
        // A new phase prints at once.
        p.show(&reading("hold", "hold"), t0 + Duration::from_secs(21));
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "copy 1\ncopy 3\nhold\n");
    }
}
