#include "TfEventsWriter.h"

#include "core/Error.h"
#include "kd_build_config.h"

#if KD_HAVE_PROTOBUF
#include "runs/proto/tb_event.pb.h"
#include "runs/proto/tb_hparams.pb.h"
#include "runs/proto/tb_summary.pb.h"
#endif

#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>

#include <unistd.h> // gethostname

namespace kd {

namespace {

// Byte-at-a-time table of the reflected Castagnoli polynomial: 1 KiB, fast enough for a few
// records per second.
std::array<std::uint32_t, 256> makeCrc32cTable()
{
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        t[i] = c;
    }
    return t;
}

void putLittleEndian(char *out, std::uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; ++i)
        out[i] = char((v >> (8 * i)) & 0xFFu);
}

#if KD_HAVE_PROTOBUF
const char *kScalarsPlugin = "scalars";
const char *kHParamsPlugin = "hparams";
const char *kSessionStartTag = "_hparams_/session_start_info";
const char *kSessionEndTag = "_hparams_/session_end_info";
#endif

void flattenInto(const nlohmann::json &j, const std::string &prefix, nlohmann::json &out)
{
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it)
            flattenInto(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    } else if (j.is_array()) {
        out[prefix] = j.dump();
    } else if (j.is_boolean() || j.is_number() || j.is_string()) {
        if (!prefix.empty())
            out[prefix] = j;
    }
}

#if KD_HAVE_PROTOBUF
tb::SummaryMetadata hparamsMetadata(const tb::HParamsPluginData &data)
{
    tb::SummaryMetadata m;
    m.mutable_plugin_data()->set_plugin_name(kHParamsPlugin);
    m.mutable_plugin_data()->set_content(data.SerializeAsString());
    return m;
}
#endif

} // namespace

std::uint32_t crc32c(const void *data, std::size_t size, std::uint32_t crc)
{
    static const auto table = makeCrc32cTable();
    const auto *p = static_cast<const unsigned char *>(data);
    std::uint32_t c = ~crc;
    for (std::size_t i = 0; i < size; ++i)
        c = table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
    return ~c;
}

std::uint32_t maskedCrc32c(const void *data, std::size_t size)
{
    const std::uint32_t crc = crc32c(data, size);
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

#if KD_HAVE_PROTOBUF
TfEventsWriter::TfEventsWriter(const std::string &path, double wallTime)
    : m_path(path)
{
    m_out.open(path, std::ios::out | std::ios::binary | std::ios::trunc);
    if (!m_out)
        throw Error("cannot create the TensorBoard event file " + path + "; check that its folder is writable");
    tb::Event e;
    e.set_wall_time(wallTime);
    e.set_step(0);
    e.set_file_version("brain.Event:2");
    e.mutable_source_metadata()->set_writer("kd-workbench");
    writeRecord(e.SerializeAsString());
}
#else
TfEventsWriter::TfEventsWriter(const std::string &path, double wallTime)
    : m_path(path)
{
    (void)wallTime;
    throw Error("this build has no Protobuf, so it writes no TensorBoard event file (metrics.csv has every "
                "value); install libprotobuf-dev and protobuf-compiler and rebuild for " + path);
}
#endif

TfEventsWriter::TfEventsWriter(const std::string &path, std::uint64_t keepBytes)
    : m_path(path)
{
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec || size < keepBytes)
        throw Error("the TensorBoard event file " + path + " is shorter than when the checkpoint was written");
    std::filesystem::resize_file(path, keepBytes, ec);
    if (ec)
        throw Error("cannot cut the TensorBoard event file " + path + " back to the checkpoint: " + ec.message());
    m_out.open(path, std::ios::out | std::ios::binary | std::ios::app);
    if (!m_out)
        throw Error("cannot append to the TensorBoard event file " + path);
    m_bytes = keepBytes;
}

std::string TfEventsWriter::fileName(double unixSeconds, const std::string &host)
{
    return "events.out.tfevents." + std::to_string(static_cast<long long>(std::floor(unixSeconds))) + "." + host
           + ".kdw";
}

std::string TfEventsWriter::hostName()
{
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0')
        return "localhost";
    std::string host(buf);
    // The name becomes part of a file name: keep it to characters every file system takes.
    for (char &c : host)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_'))
            c = '_';
    return host;
}

double TfEventsWriter::nowUnixSeconds()
{
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void TfEventsWriter::writeRecord(const std::string &data)
{
    char header[12];
    putLittleEndian(header, data.size(), 8);
    putLittleEndian(header + 8, maskedCrc32c(header, 8), 4);
    char footer[4];
    putLittleEndian(footer, maskedCrc32c(data.data(), data.size()), 4);
    m_out.write(header, sizeof header);
    m_out.write(data.data(), std::streamsize(data.size()));
    m_out.write(footer, sizeof footer);
    m_out.flush();
    m_bytes += sizeof header + data.size() + sizeof footer;
    if (!m_out)
        throw Error("cannot write the TensorBoard event file " + m_path + " (disk full or file removed?)");
}

#if KD_HAVE_PROTOBUF
void TfEventsWriter::writeScalars(std::int64_t step, double wallTime,
                                  const std::vector<std::pair<std::string, double>> &values)
{
    tb::Event e;
    e.set_wall_time(wallTime);
    e.set_step(step);
    auto *summary = e.mutable_summary();
    for (const auto &[tag, v] : values) {
        if (!std::isfinite(v))
            continue;
        auto *value = summary->add_value();
        value->set_tag(tag);
        value->set_simple_value(static_cast<float>(v));
        if (m_describedTags.insert(tag).second) {
            tb::ScalarPluginData content;
            content.set_version(0);
            value->mutable_metadata()->mutable_plugin_data()->set_plugin_name(kScalarsPlugin);
            value->mutable_metadata()->mutable_plugin_data()->set_content(content.SerializeAsString());
        }
    }
    if (summary->value_size() > 0)
        writeRecord(e.SerializeAsString());
}

void TfEventsWriter::writeSessionStart(const nlohmann::json &hparams, double startTime)
{
    tb::HParamsPluginData data;
    data.set_version(0);
    auto *start = data.mutable_session_start_info();
    start->set_start_time_secs(startTime);
    start->set_model_uri(std::filesystem::path(m_path).parent_path().string());
    auto &map = *start->mutable_hparams();
    for (auto it = hparams.begin(); it != hparams.end(); ++it) {
        const auto &v = it.value();
        if (v.is_boolean())
            map[it.key()].set_bool_value(v.get<bool>());
        else if (v.is_number())
            map[it.key()].set_number_value(v.get<double>());
        else if (v.is_string())
            map[it.key()].set_string_value(v.get<std::string>());
    }
    tb::Event e;
    e.set_wall_time(startTime);
    e.set_step(0);
    auto *value = e.mutable_summary()->add_value();
    value->set_tag(kSessionStartTag);
    *value->mutable_metadata() = hparamsMetadata(data);
    writeRecord(e.SerializeAsString());
}

void TfEventsWriter::writeSessionEnd(const std::string &status, double endTime)
{
    tb::HParamsPluginData data;
    data.set_version(0);
    auto *end = data.mutable_session_end_info();
    end->set_end_time_secs(endTime);
    end->set_status(status == "completed" ? tb::STATUS_SUCCESS
                    : status == "failed"  ? tb::STATUS_FAILURE
                    : status == "running" ? tb::STATUS_RUNNING
                                          : tb::STATUS_UNKNOWN);
    tb::Event e;
    e.set_wall_time(endTime);
    e.set_step(0);
    auto *value = e.mutable_summary()->add_value();
    value->set_tag(kSessionEndTag);
    *value->mutable_metadata() = hparamsMetadata(data);
    writeRecord(e.SerializeAsString());
}

#else
// Without Protobuf no writer is ever constructed (the constructor above throws).
void TfEventsWriter::writeScalars(std::int64_t, double, const std::vector<std::pair<std::string, double>> &)
{
    throw std::logic_error("TfEventsWriter without Protobuf");
}

void TfEventsWriter::writeSessionStart(const nlohmann::json &, double)
{
    throw std::logic_error("TfEventsWriter without Protobuf");
}

void TfEventsWriter::writeSessionEnd(const std::string &, double)
{
    throw std::logic_error("TfEventsWriter without Protobuf");
}

#endif

nlohmann::json TfEventsWriter::flattenHParams(const nlohmann::json &config)
{
    nlohmann::json out = nlohmann::json::object();
    flattenInto(config, "", out);
    return out;
}

std::vector<std::pair<std::string, double>> TfEventsWriter::scalarsOf(const MetricRecord &r)
{
    const bool epoch = r.kind == MetricRecord::Kind::Epoch;
    const std::string role = r.role + "/";
    const std::string shared = epoch ? role + "epoch_" : role; // columns both kinds of row carry
    std::vector<std::pair<std::string, double>> out;
    if (epoch)
        out.emplace_back(role + "epoch", double(r.epoch));
    for (const auto &[name, v] : r.losses)
        out.emplace_back(shared + (name == "loss" ? std::string("loss") : "loss_" + name), v);
    out.emplace_back(shared + "lr", r.lr);
    out.emplace_back(role + "train_acc", r.trainAcc);
    out.emplace_back(role + "val_acc", r.valAcc);
    out.emplace_back(role + "test_acc", r.testAcc);
    out.emplace_back(shared + "img_per_s", r.imagesPerSecond);
    for (const auto &[name, v] : r.extra)
        out.emplace_back(role + name, v);
    return out;
}

std::vector<std::pair<std::string, double>> TfEventsWriter::finalScalarsOf(const RunSummary &s)
{
    std::vector<std::pair<std::string, double>> out;
    for (const auto &r : s.roles) {
        const std::string p = "hparams/" + r.role + "_";
        out.emplace_back(p + "test_acc", r.finalTestAcc);
        out.emplace_back(p + "best_test_acc", r.bestTestAcc);
        out.emplace_back(p + "params", double(r.params));
        out.emplace_back(p + "train_seconds", r.trainSeconds);
        out.emplace_back(p + "epochs_done", double(r.epochsDone));
        for (const auto &e : r.extras) {
            out.emplace_back(p + e.name, e.finalValue);
            out.emplace_back(p + "best_" + e.name, e.best);
        }
    }
    const auto *st = s.find("student");
    const auto *sc = s.find("student_scratch");
    if (st && sc)
        out.emplace_back("hparams/kd_gain", st->finalTestAcc - sc->finalTestAcc);
    return out;
}

} // namespace kd
