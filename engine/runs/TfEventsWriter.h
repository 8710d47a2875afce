#pragma once

#include "runs/Metrics.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace kd {

/// CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial and final XOR 0xFFFFFFFF), the
/// checksum of TFRecord framing. `crc` continues an earlier result over more bytes
/// (crc32c(ab) == crc32c(b, crc32c(a))).
std::uint32_t crc32c(const void *data, std::size_t size, std::uint32_t crc = 0);

/// TFRecord's masked CRC-32C: ((crc >> 15) | (crc << 17)) + 0xa282ead8, so a CRC of data that
/// itself contains CRCs does not read as valid.
std::uint32_t maskedCrc32c(const void *data, std::size_t size);

/// Writes a TensorBoard event file (`events.out.tfevents.*`): a sequence of TFRecords
/// (uint64 length little endian, masked CRC-32C of those 8 bytes, the serialized Event, masked
/// CRC-32C of it), each flushed when written so TensorBoard sees a run while it trains.
///
/// What it writes: scalars as `simple_value` with plugin "scalars" metadata (on a tag's first
/// value only, as TensorBoard's own writers do); the hparams plugin's session start (the
/// hyperparameters) and session end (the status). It writes no hparams "experiment" record:
/// TensorBoard takes one such record from an arbitrary run as the column list of every run,
/// whereas without one it unites the hyperparameters of all runs' session starts — the right
/// thing for a folder of runs of different methods.
///
/// Not thread-safe: the owner (RunStore) serialises calls.
class TfEventsWriter {
public:
    /// Creates (truncates) `path` and writes the first record, `file_version: "brain.Event:2"`.
    /// Throws kd::Error naming the file when it cannot be created or written.
    TfEventsWriter(const std::string &path, double wallTime);
    /// Continues an existing event file (a resumed run): cuts it back to its first `keepBytes`
    /// bytes, a record boundary this writer reported by bytes(), and appends from there.
    TfEventsWriter(const std::string &path, std::uint64_t keepBytes);

    const std::string &path() const { return m_path; }
    /// Bytes in the file so far (every record is flushed when written).
    std::uint64_t bytes() const { return m_bytes; }

    /// `events.out.tfevents.<unix seconds>.<host>.kdw`: TensorBoard loads any file whose name
    /// contains "tfevents" and orders a directory's files by the number.
    static std::string fileName(double unixSeconds, const std::string &host);
    /// This machine's host name ("localhost" when it cannot be read).
    static std::string hostName();
    static double nowUnixSeconds();

    /// One event of scalars at `step`; non-finite values are skipped (as metrics.csv leaves
    /// them empty), and nothing is written when none is left.
    void writeScalars(std::int64_t step, double wallTime, const std::vector<std::pair<std::string, double>> &values);

    /// The hparams plugin's session start (tag `_hparams_/session_start_info`): `hparams` is a
    /// flat JSON object (see flattenHParams) of numbers, strings and bools.
    void writeSessionStart(const nlohmann::json &hparams, double startTime);

    /// The hparams plugin's session end (tag `_hparams_/session_end_info`): `status` is a
    /// RunSummary status ("completed" -> success, "failed" -> failure, "running" -> running,
    /// anything else such as "stopped" -> unknown).
    void writeSessionEnd(const std::string &status, double endTime);

    /// Frames and appends one serialized Event, then flushes. Throws kd::Error when the write
    /// fails (disk full, file removed from a read-only mount, ...).
    void writeRecord(const std::string &data);

    /// Dotted keys of every number, string and bool of `config` ("student.train.lr"); arrays
    /// become their compact JSON text ("[128]"), nulls are left out.
    static nlohmann::json flattenHParams(const nlohmann::json &config);

    /// The scalars of one metrics.csv row, tagged `<role>/<column>` with metrics.csv's column
    /// names. Epoch rows also carry loss terms, lr and img_per_s, which step rows already log at
    /// the same step; there those are tagged `<role>/epoch_<column>` so the two series stay
    /// apart. Epoch rows add `<role>/epoch`.
    static std::vector<std::pair<std::string, double>> scalarsOf(const MetricRecord &record);

    /// The final results for the hparams table, tagged `hparams/<role>_<figure>`:
    /// `test_acc` (final), `best_test_acc`, `params`, `train_seconds`, `epochs_done`, each
    /// extra metric (final) and `best_<extra>`; and `hparams/kd_gain` (student minus
    /// student_scratch final test accuracy) when both exist.
    static std::vector<std::pair<std::string, double>> finalScalarsOf(const RunSummary &summary);

private:
    std::string m_path;
    std::ofstream m_out;
    std::uint64_t m_bytes = 0;
    std::set<std::string> m_describedTags; ///< tags whose metadata has been written
};

} // namespace kd
