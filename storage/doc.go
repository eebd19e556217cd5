// Package storage keeps seedlog's logs on disk: the FS boundary (FS, File, OSFS), the
// partition log (Log), its checkpoints, and the recovery that runs when a log is opened.
// The same code serves partition logs and the controller's metadata log, in the real
// world over OSFS and in the simulator over disksim.
//
// # Directory layout
//
// A log owns one directory (for a partition, "<topic>-<partition>" by convention):
//
//	00000000000000000000.log         segment: record batches from offset 0
//	00000000000000000000.index       its sparse offset index
//	00000000000000000000.timeindex   its time index
//	00000000000000000000.txnindex    its aborted-transactions index (only with aborts)
//	00000000000000001234.log         next segment, base offset 1234, ...
//	log-offsets-checkpoint           log start offset and recovery point
//	leader-epoch-checkpoint          leader epoch cache (written by its owner)
//	fenced-ranges, fenced-ranges.1   the fenced ranges, twice (only once there were any)
//	cleaner-passes                   compaction's history (only once a pass ran)
//	txnindex-incomplete              the aborted-transactions index may lack entries from
//	                                 an offset on (only from a recovery that found a
//	                                 .txnindex damaged until the owner listed them again)
//	<base>-<end>.cleaning            a cleaned segment being written; removed by OpenLog
//	<base>-<end>.swap                a cleaned segment written in full; OpenLog swaps it in
//	<base>-<end>.txnswap             the aborted-transactions index of a cleaned segment
//	*.tmp                            scratch of WriteFileAtomic; removed by OpenLog
//
// Segment files are named by their base offset in 20 decimal digits, as in Kafka. The
// segments' offsets are dense: each segment starts at the offset after the previous one's
// last batch, or at the end of a fenced range that starts there (see Damage). The last
// segment is the active one; appends go there. Other entries in the directory (a
// producer-state snapshot, say) are left alone by OpenLog.
//
// # .log
//
// A segment file is a plain concatenation of Kafka record batches (magic v2), exactly as
// appended, with no framing of its own. The batch layout is documented in core/record: a
// 61-byte header (base offset, length, partition leader epoch, magic, CRC-32C over the
// rest, attributes, last offset delta, timestamps, producer fields, record count), then
// the records. The first batch's base offset equals the segment's base offset and each
// next batch starts at the previous one's last offset + 1. A segment is at most
// LogConfig.SegmentBytesMax bytes unless it holds a single larger batch.
//
// Kafka's batch CRC covers the bytes from the attributes on. The base offset is checked
// by density instead. The partition leader epoch (4 bytes) is covered by nothing, so
// damage confined to it cannot be detected here.
//
// # .index
//
// A sparse map from offsets to byte positions in the segment file. Entries of 8 bytes,
// big-endian:
//
//	offset  size  field
//	0       4     relative offset: base offset of a batch minus the segment's base (uint32)
//	4       4     byte position of that batch in the .log file (uint32)
//
// The first batch always has an entry (0, 0); after that a batch gets one when it starts
// at least LogConfig.IndexIntervalBytes after the last indexed batch. Both fields strictly
// increase. Unlike Kafka, which indexes a batch's last offset, seedlog indexes its base
// offset, so every entry names a batch boundary; a lookup takes the last entry at or
// below the wanted offset and walks the batch headers from there, at most about one index
// interval.
//
// # .timeindex
//
// Entries of 12 bytes, big-endian:
//
//	offset  size  field
//	0       8     timestamp: the largest batch max timestamp in the segment up to and
//	              including the batch below (int64, ms)
//	8       4     relative offset of that batch's base offset (uint32)
//
// An entry is added together with an offset index entry when the running maximum grew
// since the last time index entry, and once more when the segment stops being active, so
// that the last entry of an inactive segment holds its exact maximum. Both fields
// strictly increase. Timestamps below 0 (Kafka's "no timestamp" is -1) never make an
// entry. To find the first batch with a max timestamp >= ts, a lookup takes the last
// entry with a timestamp < ts (every batch up to its batch is too old) and walks from
// there.
//
// Indexes live in memory while a log is open and the files are their copies, written
// when a segment rolls (and at Close) and synced by the next Sync. The active segment's
// index files are never synced: recovery always rebuilds them. Index files are open only
// from such a write to the segment's next Sync; the segments' .log files stay open through
// a FileCache, which a log may share with others to bound their descriptors.
//
// # .txnindex
//
// The aborted transactions whose abort marker the segment holds, one entry per
// transaction in marker order, 36 bytes, big-endian:
//
//	offset  size  field
//	0       8     producer id
//	8       8     first offset of the transaction
//	16      8     offset of its abort marker (in the segment, or in a fenced range after it)
//	24      8     stable offset: the first offset of the oldest transaction of another
//	              producer still open once the marker was written, or the marker + 1
//	32      4     CRC-32C of the 32 bytes before
//
// The log's owner computes the entries and hands them over with the batches
// (AppendAborting); Aborted(from, to) lists those overlapping [from, to) by walking the
// indexes from the segment holding from and stopping at the first entry whose stable
// offset reaches to (every later transaction began at or after it). Unlike the other
// indexes it cannot be rebuilt from its segment (a transaction's first offset may lie
// in an earlier one), so the file is written and synced by every Sync that follows new
// entries, created at the first, and rewritten whole (WriteFileAtomic) when entries
// move between segments. Recovery keeps each file's entries up to the first that is
// torn, fails its CRC or does not fit its segment, and reports from which offset entries
// may be missing (RecoveryReport.AbortedCutOffset): the owner lists the aborts from
// there again with SetAborted. That offset is first made durable in the file
// txnindex-incomplete ("seedlog-txnindex-incomplete 1\nfrom <decimal>\n" and a crc32c
// line, as the offsets checkpoint), because a fencing or a compaction before the
// owner's SetAborted may rewrite what was kept of a damaged file as a valid one; every
// recovery reports the damage again until SetAborted removes the file. A garbled one
// reports entries missing from offset 0.
//
// # log-offsets-checkpoint
//
// One text file holds the log start offset and the recovery point, so one atomic write
// updates both:
//
//	seedlog-log-offsets 1
//	log-start-offset <decimal>
//	recovery-point <decimal>
//	crc32c <8 lowercase hex digits: CRC-32C of the three lines above, newlines included>
//
// Every line ends with "\n". Values are canonical non-negative decimals. The file is
// replaced with WriteFileAtomic, so a crash leaves the old or the new version; the CRC
// catches damage at rest, after which recovery treats the file as missing.
//
// # leader-epoch-checkpoint
//
// Kafka's format and a checksum line, written with WriteLeaderEpochs and read with
// ReadLeaderEpochs:
//
//	0                          version
//	<n>                        number of entries
//	<epoch> <start offset>     n lines, each "\n"-terminated
//	crc32c <8 hex digits>      CRC-32C of everything before this line
//
// Epochs strictly increase and start offsets never decrease; both are non-negative.
// Anything else is rejected with ErrBadCheckpoint, and so is a file whose checksum
// fails three reads (a fault on the read path passes; an epoch read one digit high
// would keep the replica from leading every epoch below it). A file without the
// checksum line, as written before it, is read as it is. A missing file means no
// entries.
//
// # fenced-ranges
//
// The offset ranges the log holds no batches for although they were assigned (see
// Damage), in one text file written twice, to fenced-ranges and then fenced-ranges.1,
// each with WriteFileAtomic:
//
//	seedlog-fenced-ranges 1
//	generation <decimal>
//	<kind> <from> <to>         one line per range, kind "damaged" or "lost"
//	crc32c <8 lowercase hex digits: CRC-32C of the lines above, newlines included>
//
// Ranges [from, to) are non-empty, sorted and disjoint; at most 4096. Values are
// canonical decimals; anything else is rejected with ErrBadCheckpoint. Reading takes the
// valid copy with the higher generation, so damage to one copy, or a crash between the
// two writes, loses nothing; both copies garbled leave the ranges unknown
// (RecoveryReport.FencesProblem), and recovery then cuts at the first gap between
// segments as at a hole. Each write bumps the generation. A range must end where a
// segment starts and begin after the segment before it did: recovery drops one that does
// not (the trace of an interrupted fencing or skip, redone or undone below).
//
// # Durability rules
//
// The FS contract (see FS) is POSIX's: file bytes are durable after File.Sync, directory
// entries after SyncDir of their directory, and after a failed sync nothing written since
// the last good one can be trusted. On top of it:
//
//   - Append writes into the page cache (or disksim's unsynced state) and syncs nothing.
//   - Sync syncs the aborted-transactions index of every segment given entries since,
//     and the log file of every segment written since the last sync, the index
//     files of those that are no longer active, and the directory if segments were
//     created or removed. Then the recovery point becomes the end offset.
//   - The recovery point is checkpointed when it moves to a later segment or backwards,
//     and at Close; recovery rescans the segment holding the last durable offset anyway,
//     so finer progress is not worth a write.
//   - TruncateTo and TruncateFullyAndStartAt leave the whole log durable, the truncation
//     included, before they return; a lowered recovery point is checkpointed.
//   - DeleteBelow checkpoints the new log start offset before it removes any file, and
//     does not wait for the removals to be durable: recovery finishes them.
//   - Checkpoints are replaced atomically (write a .tmp, sync it, rename, sync the
//     directory). Every directory sync makes all pending entries of the log directory
//     durable, segment creations included.
//   - Any failed write, sync or file operation fails the Log (ErrLogFailed): it refuses
//     every further change and must be closed and reopened, which runs recovery. This is
//     the fsyncgate rule: a later successful fsync proves nothing.
//   - A fenced-ranges record is durable before any segment it describes is created,
//     cut or removed, and a copy of batches moved by a fencing is durable before the
//     segment they came from is cut (see Damage).
//   - OpenLog ends with everything it kept durable: recovery point = end offset.
//   - OpenLog of a directory that did not exist syncs the parent (the new directory's
//     entry) and the new directory (its first segment's entry) and nothing else: the
//     empty segment's data waits for the first Sync, and no checkpoint is written, since
//     an empty directory opens as the same log. The segment's entry is synced because,
//     without a checkpoint, the log start comes from the first segment that survived.
//
// # Recovery
//
// OpenLog:
//
//  1. lists the directory; removes *.tmp files and index files whose .log is missing;
//     records entries that are not seedlog's and leaves them alone;
//  2. reads log-offsets-checkpoint; when it is missing or garbled, the log start offset
//     falls back to the first segment's base offset and every segment is scanned (the
//     small files, this checkpoint, the leader-epoch checkpoint, the fenced ranges, the
//     cleaning history and the txnindex-incomplete mark, are read only when no larger
//     than any the log writes: ReadFileAtMost; a larger one counts as garbled);
//  3. removes segments that end at or below the log start offset (an interrupted
//     DeleteBelow);
//  4. trusts the segments before the one holding the last durable offset (recovery point
//     - 1) after cheap checks: index files of whole entries, strictly increasing, inside
//     the segment; the first batch carrying the segment's base offset; the batch headers
//     after the last index entry ending exactly at the end of the file and at the next
//     segment's base offset. The first segment that fails these checks is scanned, and
//     so is every segment after it;
//  5. scans: reads every batch of the remaining segments, checking framing, CRC, dense
//     offsets within and across segments, and that each segment starts where the
//     previous one ended (or where a fenced range starting there ends). A batch that
//     fails is read again until it validates or two reads agree byte for byte, so that
//     a bad read never destroys data. A batch that fails below the checkpointed recovery
//     point (at an offset at or above the log start) is damage to synced data: it is
//     fenced (see Damage) and the scan goes on with the batches after it. At the first
//     other batch or segment that fails (a torn tail, a hole), it cuts: truncates that
//     segment's file there, or removes the segment if it is the one out of place, and
//     removes every later segment. The indexes of the scanned segments are rebuilt;
//  6. if nothing survived at or above the log start offset, restarts the log empty there;
//  7. writes the rebuilt index files where they differ, syncs the scanned segments and the
//     directory, and checkpoints the recovery point at the end offset.
//
// A recovery point beyond the end of the data only moves step 4's boundary to the last
// segment: it is never trusted further than the segments on disk. Vanished segments (a
// crash lost their unsynced directory entries) just shorten the log; a hole (a later
// segment present without an earlier one, and no fenced range between them) is cut at
// the hole. Recovery never keeps a batch it could not validate; trusted segments are not
// read at open, but Read checks every batch it returns, stops before a bad batch that
// follows good ones, and answers ErrCorrupt for a read that starts at one (after one
// more read); CheckDamage then tells damage from a transient fault. A cut below the
// checkpointed recovery point (LogConfig.NoFences, or a hole) means durable data was
// damaged, not a tail lost in a crash; RecoveryReport.CutBelowRecoveryPoint says so, and
// the owner must treat it as a disk fault. Log.Recovery reports what recovery did
// (RecoveryReport).
//
// # Damage
//
// Synced data that fails validation (bits decayed at rest, a lost sector) is never cut
// with everything after it: that would shorten a log whose end was acknowledged and let
// new writes take offsets already handed out. Its stretch is fenced instead. From the
// end of the valid batches before the damage (offset a, byte p of the segment), the
// bytes are searched for the first position q where a batch starts that validates, has
// a base offset b above a (and below the segment's expected end), and either ends the
// file or is followed by a batch that validates and continues its offsets; the search
// reads the stretch in whole passes until two agree, so a transient read fault never
// moves a fence. Then, in this order, each step durable before the next:
//
//  1. the range [a, b) is added to the fenced-ranges record, kind damaged (ranges that
//     touch merge; damaged wins over lost);
//  2. the bytes from q to the end of the file are copied into a new segment based at b
//     (when no batch validates after the damage, b is the segment's expected end: the
//     next segment's base, or for the last segment the recovery point, trusted no
//     further than one offset per byte left on disk, else the damage is cut as a torn
//     tail; the last segment then gets an empty successor at b);
//  3. the damaged segment is truncated at p, or removed when p is 0 (a fenced range may
//     then precede the first segment: the log start lies in it).
//
// Before step 3 the damaged segment's aborted-transactions entries whose marker lies at
// or after b move to the segment based at b, and, when the segment goes, the others to
// the segment before it (the transactions aborted in the fenced part may have records
// before it), both files durable first: a crash in between leaves an entry twice, and
// recovery files it once.
//
// A crash after step 1 leaves the record and the damaged segment uncut: recovery meets
// the same damage at a where a fence starts, drops that fence and any segment based at
// its end (an incomplete copy), and fences again (RecoveryReport.InterruptedFencesRedone).
// The log end never moves; reads of a fenced offset fail with a FencedError, which says
// where the range ends. Log.CheckDamage does the same at run time for the segment holding
// an offset a read failed at, and then validates the moved batches in turn.
//
// A follower copying a range its leader declared lost calls SkipTo: the range [end,
// offset) is recorded first (kind lost), then the active segment is sealed (an empty one
// is replaced) by a new empty segment at offset. A crash in between leaves a fence with
// no segment after it, which recovery drops: the skip did not happen. TruncateTo cuts
// fences with the batches (one holding the truncation point is cut there, and the log
// ends at that point with no batch); DeleteBelow cuts them at the new start;
// TruncateFullyAndStartAt drops them all.
//
// # Compaction
//
// Log.Clean runs a pass of the log cleaner (cleanup.policy=compact; the decisions are
// package core/compact's). It rewrites runs of consecutive closed segments below the
// high watermark and the recovery point, each run into one segment named by the run's
// first base offset. The records it keeps keep their offsets and their batches' base
// offset, last offset delta, producer fields and leader epoch; a batch losing some
// records is rebuilt around the rest (recompressed with its codec), one losing all goes,
// except the last batch of each producer, kept without records so that its sequence
// survives. Offsets whose batches all went are covered by batches without records or
// producer (record.AppendEmpty), one per run of dropped batches and leader epoch, so a
// cleaned segment's offsets are as dense as any other's and recovery, indexes and the
// epoch history read it as before. A read at an offset inside such a batch gets it cut
// to start there.
//
// A run is swapped in so that a crash leaves either all its old segments or the new one:
//
//  1. the new segment is written as <base>-<end>.cleaning (both offsets in 20 digits:
//     the run covers [base, end)) and synced, and the entries of the old segments'
//     aborted-transactions indexes, if any, as <base>-<end>.txnswap, synced;
//  2. it is renamed to <base>-<end>.swap and the directory synced: the commit point;
//  3. the files of the old segments (<base>'s included, but for its .txnindex) are
//     removed, the directory synced;
//  4. the .txnswap is renamed to <base>.txnindex and the directory synced; the swap
//     file is renamed to <base>.log, its indexes written and synced, the directory
//     synced.
//
// OpenLog removes *.cleaning files and the .txnswap files without a .swap (a run never
// committed: a committed one's is renamed before its .swap), and finishes every swap it
// finds by redoing 3 and 4 (its offset and time indexes are left for recovery to
// rebuild). Renames are atomic (see FS).
//
// A pass may run in steps (CleanStep), each reading and writing about a budget of
// bytes, so that a node's other disk work waits at most one step behind the cleaner
// (the node paces the steps: log.cleaner.io.max.bytes.per.second). Between steps the
// pass's offset map and position are held in memory, and a run being written stays a
// .cleaning file; a crash loses the pass, and the next one starts over. A call that
// moves segments other than at the log's end drops the pass and its .cleaning file.
//
// cleaner-passes records where each pass ended and when it ran, the clock of the node
// in ms: the offsets below the last end are clean, and a tombstone may go
// delete.retention.ms after the pass that first cleaned it. A pass that removed the
// tombstones of an earlier one marks it swept (time 0):
//
//	seedlog-cleaner-passes 1
//	<end> <time>               one line per pass, ends rising, at most 64
//	crc32c <8 lowercase hex digits: CRC-32C of the lines above, newlines included>
//
// A missing or garbled history is an empty one: the next pass cleans from the log start
// and tombstones wait a full delete.retention.ms again. A truncation below the history's
// end cuts it before returning, durably, and so does recovery, before anything is
// appended: batches written again above the cut are never taken for clean.
//
// The controller quorum's log opens with LogConfig.NoFences: its owner recovers lost
// entries from the other voters and needs its log to end where its last valid entry
// does, so recovery cuts there as before.
package storage
