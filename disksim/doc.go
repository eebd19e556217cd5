// Package disksim is seedlog's simulated disk: an in-memory storage.FS that remembers, for
// every file and directory, what is durable and what is not, so that a simulated power
// loss can destroy exactly what a real disk is allowed to destroy. All randomness comes
// from seeded math/rand/v2 sources; the same seed and the same operations give the same
// disk, bit for bit.
//
// # Model
//
// A file is an inode with two images: the durable image (what the platter holds after
// the last successful File.Sync) and the current image (what reads see, like the page
// cache). Both are maps of 4 KiB blocks that share every block not written since the last
// Sync, so a write costs O(bytes written) and a Sync O(blocks written since the last one).
//
// A directory holds two sets of entries, name -> inode: the current set and the durable
// set as of its last SyncDir. Every creation, mkdir, removal and rename is a change of the
// current set; a rename is one change of two entries that point at the same inode. The
// root directory always exists. A directory made by MkdirAll is an entry of its parent
// like a file, durable only after SyncDir of the parent; when such an entry vanishes at
// a crash, so does everything below it, synced or not.
//
// Create of an existing name makes a new inode and unlinks the old one, which lives on for
// Files still open on it (and for a crash, while its durable entry remains).
//
// # Crash rules
//
// Crash returns a new FS; the old one and its Files must not be used again (they panic).
// The new FS is built by walking the old directory tree from the root in sorted order:
//
//  1. Directory entries. An entry whose current and durable values agree is kept. For
//     each change not yet made durable by SyncDir, one draw (EntryKeepProb) decides
//     whether the change survives; the two entries of a rename share that draw, so a
//     rename that does not survive leaves the old name and not the new one. A directory
//     reachable twice after these draws keeps only its first name.
//  2. Size. A file starts from its durable size. If it was truncated since its last Sync,
//     one draw (TruncateKeepProb) decides whether the truncates survive: if they do, the
//     size is the last size set by Truncate and the durable bytes beyond the smallest size
//     set since the Sync are zero.
//  3. Blocks. Every 4 KiB block written since its last Sync is kept, dropped or torn
//     (BlockKeepWeight, BlockDropWeight, BlockTearWeight). Kept: the block takes its
//     current content. Dropped: it keeps the content from rule 2. Torn: each 512 B sector
//     within the current size independently (SectorKeepProb) takes its current content or
//     keeps the old one. A sector is never partly written.
//  4. A kept block or sector past the size from rule 2 extends the file to the end of
//     the kept bytes (bounded by the current size); a dropped one does not, so the gap up
//     to a later kept block reads as its old content or as zeros.
//
// Draws happen in walk order, blocks in ascending order, so the crash image is a function
// of the rng. CrashKeepAll keeps every unsynced change and CrashDropAll reverts to the
// durable state.
//
// # Failed syncs
//
// A Sync that fails (injected EIO) makes nothing durable and marks as lost every byte of
// the current image that differs from the durable image. Lost bytes stay readable (as a
// Linux page cache keeps serving pages whose writeback failed), but a later successful
// Sync writes their old durable content in their place (zeros where the file was
// growing), so the file's durable size covers them while their data does not survive,
// and at a crash they are never kept, whatever the block's fate. Overwriting a lost byte
// or truncating it away clears the mark. This is the fsyncgate behaviour: a caller must
// not trust a later successful Sync and should truncate to its last good synced offset
// and rewrite. A failed SyncDir makes nothing durable and loses nothing.
//
// # Faults
//
// Faults gives per-operation probabilities drawn from the FS's private stream (seeded
// from the rng given to New): EIO on WriteAt (nothing written), EIO on Sync and SyncDir,
// ENOSPC on WriteAt either at random or when the live files' current sizes would exceed
// CapacityBytes (nothing written; only WriteAt consumes space, a growing Truncate does
// not fail), and a bit flipped in the bytes a ReadAt returns (not in storage).
// CorruptAtRest and CorruptRandom flip bits in both the durable and the current image.
// FailNextSync and FailNextWrite arm one-shot EIOs on the file a name refers to. Every
// injection is counted in Stats.
//
// # Not modelled
//
// Writes do not tear within a sector, and there is no reordering beyond the block and
// sector rules: any subset of unsynced blocks may survive, which covers the orders a real
// disk could use. Metadata is assumed journaled per change: a change survives whole or
// not at all, but unsynced changes survive independently of each other and of data
// writes (no prefix ordering as ext4's journal would give). File contents and size
// metadata are decided independently. There are no permissions, timestamps, hard links,
// symlinks, or partial writes on ENOSPC; ReadAt never fails except for corruption. Open
// Files are not carried into Clone or across Crash.
package disksim
