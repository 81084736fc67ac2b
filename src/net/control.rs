//! The control thread: waits for signals while the workers run.
//!
//! - `SIGINT`/`SIGTERM`: the workers stop reading, flush what they have
//!   queued and exit; [`Control::serve`] returns their merged counters
//!   (the process then exits 0, within 2 s of the signal).
//! - `SIGHUP`: the routing table is rebuilt by the caller's reload function
//!   and swapped in whole ([`LiveTable::store`](crate::route::LiveTable::store));
//!   workers pick it up on their next poll iteration without a lock. A
//!   failed rebuild is logged and the old table stays.

use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::{NetError, Runtime};
use crate::log;
use crate::metrics::Counters;
use crate::route::Table;

/// How long workers get to stop after `SIGINT`/`SIGTERM`.
pub const STOP_DEADLINE: Duration = Duration::from_millis(1500);

/// Installed signal handlers. Install them before binding, so that a
/// signal that arrives during start-up is not lost (or fatal).
pub struct Control {
    signals: Signals,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

impl Control {
    /// Takes over `SIGINT`, `SIGTERM` and `SIGHUP`.
    pub fn install() -> Result<Control, NetError> {
        let signals = Signals::new([SIGINT, SIGTERM, SIGHUP]).map_err(NetError::Signals)?;
        Ok(Control { signals })
    }

    /// Blocks until a stop signal (returns the workers' counters) or until
    /// a worker ends on its own (an error). On `SIGHUP` calls `reload` with
    /// the table in force and stores what it returns.
    pub fn serve(
        mut self,
        runtime: Runtime,
        mut reload: impl FnMut(&Table) -> Result<Table, String>,
    ) -> Result<Counters, NetError> {
        let handle = self.signals.handle();
        runtime.on_worker_exit(Box::new(move || handle.close()));
        let mut stop = false;
        if runtime.finished_worker().is_none() {
            for sig in self.signals.forever() {
                match sig {
                    SIGHUP => {
                        let live = runtime.live_table();
                        let old = live.load_full();
                        match reload(&old) {
                            Ok(t) => {
                                let groups = t.groups().len();
                                live.store(t);
                                log::info!("SIGHUP: routing table reloaded ({groups} group(s))");
                            }
                            Err(e) => {
                                log::error!("SIGHUP: reload failed, keeping the old table: {e}")
                            }
                        }
                        // What the old table and the rebuild held goes back
                        // to the system (a large prefix table is tens of MB);
                        // a worker still routing with the old table keeps it
                        // until its message is done, then it is freed too.
                        drop(old);
                        crate::sys::release_free_memory();
                    }
                    _ => {
                        log::info!("signal {sig}: stopping");
                        stop = true;
                        break;
                    }
                }
            }
        }
        if stop {
            return Ok(runtime.stop(STOP_DEADLINE));
        }
        // The signal loop was closed by a worker that ended.
        let mut dead = runtime.finished_worker();
        for _ in 0..100 {
            if dead.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            dead = runtime.finished_worker();
        }
        runtime.stop(STOP_DEADLINE);
        Err(NetError::WorkerDied(dead.unwrap_or(0)))
    }
}
