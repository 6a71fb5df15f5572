//! The group committer: one thread owns every metadata write.
//!
//! Writers queue a closure; the thread drains whatever is queued, runs each closure in ONE
//! redb write transaction, renames the batch's staged blobs into `blobs/`, fsyncs each touched
//! shard directory once, and commits once. So N concurrent PUTs pay one directory fsync per
//! shard and one metadata fsync between them instead of N each (group commit).
//!
//! **Invariant**: a closure either fails without touching the transaction, or succeeds; it never
//! leaves half a change behind. Closures check everything first, then write.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use redb::{Database, Durability, WriteTransaction};

use crate::blob::{Layout, Pins, sync_dir};
use crate::error::{StoreError, StoreResult};
use crate::record::BlobId;

/// What a successful closure asks the committer to do around the commit.
#[derive(Default)]
pub(crate) struct Effects {
    /// Temp files to rename to `blobs/` before the commit.
    pub renames: Vec<(PathBuf, BlobId)>,
    /// Blobs no longer referenced once the commit is durable.
    pub freed: Vec<BlobId>,
}

type Finish = Box<dyn FnOnce(Option<&StoreError>) + Send>;
type Job = Box<dyn FnOnce(&WriteTransaction) -> (Effects, Finish) + Send>;

pub(crate) struct Committer {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<CommitCounters>,
    layout: Arc<Layout>,
    /// Set when a metadata commit failed. redb refuses further writes after a failed commit,
    /// and after a failed fsync the page cache cannot be trusted (PostgreSQL's lesson): the
    /// store stops writing and says why; a restart recovers from what is on disk.
    failed: Arc<std::sync::Mutex<Option<String>>>,
}

impl Drop for Committer {
    /// Closing the queue ends the thread after it commits what is queued; joining it releases
    /// the database, so the same directory can be opened again at once.
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How well group commit is working: `ops / batches` is the average batch size.
#[derive(Debug, Default)]
pub(crate) struct CommitCounters {
    pub batches: AtomicU64,
    pub ops: AtomicU64,
}

/// Most jobs folded into one transaction; bounds the latency a batch adds to its first job.
const MAX_BATCH: usize = 1024;

impl Committer {
    pub fn start(db: Arc<Database>, layout: Arc<Layout>, pins: Arc<Pins>) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let stats = Arc::new(CommitCounters::default());
        let counters = stats.clone();
        let failed = Arc::new(std::sync::Mutex::new(None));
        let failure = failed.clone();
        let thread_layout = layout.clone();
        let thread = std::thread::Builder::new()
            .name("keyless-commit".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    while jobs.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(j) => jobs.push(j),
                            Err(_) => break,
                        }
                    }
                    counters.batches.fetch_add(1, Ordering::Relaxed);
                    counters.ops.fetch_add(jobs.len() as u64, Ordering::Relaxed);
                    if let Err(e) = commit_batch(&db, &thread_layout, &pins, jobs) {
                        tracing::error!(error = %e, "the metadata database failed a write; the store stops writing (restart keyless to recover)");
                        *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    }
                }
            })
            .expect("spawn the commit thread");
        Self {
            tx: Some(tx),
            thread: Some(thread),
            stats,
            layout,
            failed,
        }
    }

    /// Why the store stopped writing, if it did.
    pub fn failure(&self) -> Option<String> {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// (batches committed, operations committed) since start.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.stats.batches.load(Ordering::Relaxed),
            self.stats.ops.load(Ordering::Relaxed),
        )
    }

    /// Runs `f` inside the next group transaction and returns its result once that transaction
    /// is durable. `f` returns the value and the effects to apply around the commit.
    pub async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction, &mut Effects) -> StoreResult<T> + Send + 'static,
    {
        if let Some(why) = self.failure() {
            return Err(StoreError::Failed(why));
        }
        // A read-only data directory is found before redb tries (and fails) to write.
        if self.layout.space.read_only() {
            return Err(StoreError::ReadOnly(format!(
                "the filesystem of \"{}\" is mounted read-only",
                &self.layout.root.display()
            )));
        }
        let (reply, wait) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |txn| {
            let mut effects = Effects::default();
            match f(txn, &mut effects) {
                Ok(v) => {
                    let fin: Finish = Box::new(move |err| {
                        let _ = reply.send(match err {
                            None => Ok(v),
                            Some(StoreError::ReadOnly(m)) => Err(StoreError::ReadOnly(m.clone())),
                            Some(StoreError::InsufficientStorage { available, reserve }) => {
                                Err(StoreError::InsufficientStorage {
                                    available: *available,
                                    reserve: *reserve,
                                })
                            }
                            Some(e) => Err(StoreError::Db(format!("commit failed: {e}"))),
                        });
                    });
                    (effects, fin)
                }
                Err(e) => {
                    let fin: Finish = Box::new(move |_| {
                        let _ = reply.send(Err(e));
                    });
                    (Effects::default(), fin)
                }
            }
        });
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| StoreError::Internal("the store is closing".into()))?;
        tx.send(job)
            .map_err(|_| StoreError::Internal("the commit thread has stopped".into()))?;
        wait.await
            .map_err(|_| StoreError::Internal("the commit thread dropped a request".into()))?
    }
}

/// Commits one batch. `Err`: the database itself failed (the store must stop writing); a
/// failed rename or directory sync only fails the batch.
fn commit_batch(db: &Database, layout: &Layout, pins: &Pins, jobs: Vec<Job>) -> Result<(), String> {
    let mut txn = match db.begin_write() {
        Ok(t) => t,
        Err(e) => {
            // Without a transaction nothing can run. Dropping the jobs drops their reply
            // channels, so every waiting writer gets an error instead of hanging.
            tracing::error!(error = %e, jobs = jobs.len(), "cannot begin a metadata transaction");
            return Err(format!("cannot begin a metadata transaction: {e}"));
        }
    };
    let _ = txn.set_durability(Durability::Immediate);
    let mut finishes = Vec::with_capacity(jobs.len());
    let mut renames = Vec::new();
    let mut freed = Vec::new();
    for j in jobs {
        let (eff, fin) = j(&txn);
        renames.extend(eff.renames);
        freed.extend(eff.freed);
        finishes.push(fin);
    }
    let mut renamed: Vec<BlobId> = Vec::new();
    let mut db_failed = None;
    let result = (|| -> StoreResult<()> {
        let mut dirs = BTreeSet::new();
        for (tmp, id) in &renames {
            std::fs::rename(tmp, layout.blob_path(*id))?;
            renamed.push(*id);
            dirs.insert(layout.shard_dir(*id));
        }
        // Durability: each blob's new name is on disk before the metadata that points at it.
        for d in &dirs {
            sync_dir(d)?;
        }
        // THE commit point: once this returns, the batch's writes are acknowledged and durable.
        txn.commit().map_err(|e| {
            db_failed = Some(format!("metadata commit failed: {e}"));
            StoreError::db(e)
        })?;
        Ok(())
    })();
    match result {
        Ok(()) => {
            // Old bytes go only after the commit that stopped referencing them.
            pins.free(layout, &freed);
            for f in finishes {
                f(None);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "metadata commit failed; the batch is rolled back");
            for id in renamed {
                let _ = std::fs::remove_file(layout.blob_path(id));
            }
            let e = e.classify_io();
            for f in finishes {
                f(Some(&e));
            }
        }
    }
    db_failed.map_or(Ok(()), Err)
}
