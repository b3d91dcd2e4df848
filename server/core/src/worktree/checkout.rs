//! Writing a commit's files into a new worktree: the object lookup tuned for checkout.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::*;

/// Checks out `commit`'s tree into the (empty) working tree of `worktree` and writes its index.
pub(super) fn check_out_commit(
    worktree: &gix::Repository,
    commit: gix::ObjectId,
    interrupt: &AtomicBool,
) -> Result<(), BoxError> {
    let workdir = worktree
        .workdir()
        .ok_or("the new worktree has no working directory")?
        .to_owned();
    let tree = worktree.find_commit(commit)?.tree_id()?.detach();
    let mut index = worktree.index_from_tree(&tree)?;
    let mut options =
        worktree.checkout_options(gix::worktree::stack::state::attributes::Source::IdMapping)?;
    options.destination_is_initially_empty = true;
    let loose_dir = worktree.common_dir().join("objects");
    let objects = CheckoutObjects {
        odb: worktree.objects.clone().into_arc()?,
        loose: std::sync::Arc::new(list_loose_objects(&loose_dir, worktree.object_hash())),
        loose_dir,
        compressed: std::cell::RefCell::new(Vec::new()),
    };
    let discard = gix::progress::Discard;
    gix::worktree::state::checkout(
        &mut index, workdir, objects, &discard, &discard, interrupt, options,
    )?;
    index.write(Default::default())?;
    Ok(())
}

/// The object database as seen by the checkout threads (each has its own clone).
///
/// Loose objects are read with one `open` + `read` into a reused buffer and inflated in memory; gix's
/// loose store looks each up with a `stat`, then maps it with `mmap`/`munmap`, which in a multi-threaded
/// process adds a page fault and a TLB shootdown per object. A fresh commit of thousands of files is
/// all loose objects, so this matters for session worktrees of local work. Packed objects (and
/// alternates) come from gix's object database as usual.
#[derive(Clone)]
struct CheckoutObjects {
    odb: gix::OdbHandleArc,
    loose_dir: PathBuf,
    /// The loose objects there were when the checkout started; others are looked up in the object database.
    loose: std::sync::Arc<std::collections::HashSet<gix::ObjectId>>,
    compressed: std::cell::RefCell<Vec<u8>>,
}

/// The ids of the loose objects in `objects_dir` (its two-hex-digit fan-out folders).
fn list_loose_objects(
    objects_dir: &Path,
    hash: gix::hash::Kind,
) -> std::collections::HashSet<gix::ObjectId> {
    let mut ids = std::collections::HashSet::new();
    let Ok(fan_out) = std::fs::read_dir(objects_dir) else {
        return ids;
    };
    let mut hex = String::with_capacity(hash.len_in_hex());
    for folder in fan_out.flatten() {
        let name = folder.file_name();
        let Some(prefix) = name.to_str().filter(|name| name.len() == 2) else {
            continue;
        };
        let Ok(entries) = std::fs::read_dir(folder.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str() else { continue };
            hex.clear();
            hex.push_str(prefix);
            hex.push_str(rest);
            if hex.len() == hash.len_in_hex()
                && let Ok(id) = gix::ObjectId::from_hex(hex.as_bytes())
            {
                ids.insert(id);
            }
        }
    }
    ids
}

impl gix::objs::Find for CheckoutObjects {
    fn try_find<'a>(
        &self,
        id: &gix::hash::oid,
        buffer: &'a mut Vec<u8>,
    ) -> gix::error::Result<Option<gix::objs::Data<'a>>> {
        if self.loose.contains(id) && self.read_loose(id, buffer)? {
            let (kind, size, header_len) = gix::objs::decode::loose_header(buffer)?;
            if usize::try_from(size).ok() != Some(buffer.len() - header_len) {
                return Err(gix::error::Error::from_error(std::io::Error::other(
                    format!(
                        "loose object {id} is {} bytes long, its header says {size}",
                        buffer.len() - header_len
                    ),
                )));
            }
            buffer.drain(..header_len);
            return Ok(Some(gix::objs::Data {
                kind,
                object_hash: id.kind(),
                data: buffer,
            }));
        }
        self.odb.try_find(id, buffer)
    }
}

impl CheckoutObjects {
    /// Inflates the loose object `id` (header included) into `out`; `false` if there is no such loose object.
    fn read_loose(&self, id: &gix::hash::oid, out: &mut Vec<u8>) -> gix::error::Result<bool> {
        use std::io::Read as _;
        let hex = id.to_hex().to_string();
        let path = self.loose_dir.join(&hex[..2]).join(&hex[2..]);
        let mut file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(error) => return Err(gix::error::Error::from_error(error)),
        };
        let mut compressed = self.compressed.borrow_mut();
        compressed.clear();
        file.read_to_end(&mut compressed)
            .map_err(gix::error::Error::from_error)?;
        drop(file);
        let mut inflate = gix::zlib::Decompress::new();
        out.clear();
        out.resize(compressed.len().saturating_mul(4).max(256), 0);
        loop {
            let consumed = usize::try_from(inflate.total_in()).unwrap_or(usize::MAX);
            let written = usize::try_from(inflate.total_out()).unwrap_or(usize::MAX);
            let input = compressed.get(consumed..).unwrap_or_default();
            let output = out.get_mut(written..).unwrap_or_default();
            let status = inflate.decompress(input, output, gix::zlib::FlushDecompress::None)?;
            let now_written = usize::try_from(inflate.total_out()).unwrap_or(usize::MAX);
            match status {
                gix::zlib::Status::StreamEnd => {
                    out.truncate(now_written);
                    return Ok(true);
                }
                gix::zlib::Status::Ok | gix::zlib::Status::BufError => {
                    if now_written == out.len() {
                        let grown = out.len().saturating_mul(2);
                        out.resize(grown, 0);
                    } else if now_written == written
                        && usize::try_from(inflate.total_in()).unwrap_or(usize::MAX) == consumed
                    {
                        return Err(gix::error::Error::from_error(std::io::Error::other(
                            format!("loose object {} is truncated", path.display()),
                        )));
                    }
                }
            }
        }
    }
}

/// Opens `repo` for [`create_worktree`]: unless the user configured `checkout.workers`, checkout uses
/// twice as many threads as there are cores (at least 4, at most 16). Writing thousands of small files is
/// bound by the kernel (inode allocation, page faults on loose objects) more than by the CPU, so more
/// threads than cores overlap those waits; gix's default is one thread per core. Measured with
/// `cargo bench -p lulu --bench worktree`.
/// Opens the repository for creating a branch and a worktree: parallel checkout (twice the cores,
/// unless `checkout.workers` is configured), and a generic committer for the reflog entries of the
/// branch and the new HEAD when the machine has no `user.name`/`user.email` (CI, a fresh
/// container), where `git worktree add` would not fail either. The open options carry over to
/// the linked worktree gix opens.
pub(super) fn open_for_checkout(repo: &Path) -> Result<gix::Repository, BoxError> {
    let repository = gix::open(repo).map_err(boxed)?;
    let mut overrides = Vec::new();
    if repository
        .config_snapshot()
        .integer("checkout.workers")
        .is_none()
    {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let workers = (cores * 2).clamp(4, 16);
        overrides.push(format!("checkout.workers={workers}"));
    }
    if repository.committer().is_none() {
        overrides.push("user.name=lulu".to_owned());
        overrides.push("user.email=lulu@localhost".to_owned());
    }
    if overrides.is_empty() {
        return Ok(repository);
    }
    gix::open_opts(
        repo,
        gix::open::Options::default().config_overrides(overrides),
    )
    .map_err(boxed)
}
