//! How a `setwise` run ends for a script: the exit code of each kind of error, in one
//! place. 0 done; 1 failed or refused (the message says why); 2 bad command line
//! (clap's own); 3 etcd unreachable; 4 gave up waiting while the work goes on.

use thiserror::Error;

/// etcd did not answer: nothing was read or written.
#[derive(Debug, Error)]
#[error("cannot reach etcd at {endpoints}: {why}")]
pub struct EtcdUnreachable {
    pub endpoints: String,
    pub why: String,
}

/// A `--wait` ran out while the operation itself goes on (the message says how to
/// follow or stop it).
#[derive(Debug, Error)]
#[error("{0}")]
pub struct StillRunning(pub String);

pub const FAILED: u8 = 1;
pub const ETCD_UNREACHABLE: u8 = 3;
pub const STILL_RUNNING: u8 = 4;

/// The exit code for an error that ended the run.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if cause.is::<EtcdUnreachable>() {
            return ETCD_UNREACHABLE;
        }
        if cause.is::<StillRunning>() {
            return STILL_RUNNING;
        }
        if let Some(t) = cause.downcast_ref::<topo::TopoError>() {
            if matches!(t, topo::TopoError::Unreachable { .. }) {
                return ETCD_UNREACHABLE;
            }
        }
    }
    FAILED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let e = anyhow::Error::new(EtcdUnreachable {
            endpoints: "http://127.0.0.1:1".into(),
            why: "Connection refused".into(),
        });
        assert_eq!(exit_code(&e), ETCD_UNREACHABLE);
        let e = anyhow::Error::new(StillRunning("still copying".into())).context("move m1");
        assert_eq!(exit_code(&e), STILL_RUNNING);
        assert_eq!(exit_code(&anyhow::anyhow!("no set \"x\"")), FAILED);
    }
}
