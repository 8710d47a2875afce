#include "ProjectConfig.h"

#include "core/DurableFile.h"
#include "core/Error.h"
#include "project/JsonReader.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace kd {

namespace fs = std::filesystem;

Project::Project()
{
    teacher.arch = "cnn_large";
    student.arch = "mlp";
}

static TrainOptions readTrain(const nlohmann::json &json, const std::string &path)
{
    TrainOptions t;
    JsonReader r(json, path);
    t.epochs = int(r.integer("epochs", t.epochs, 0, 100000));
    t.batchSize = int(r.integer("batch_size", t.batchSize, 1, 1 << 20));
    t.optimizer = r.string("optimizer", t.optimizer, {"sgd", "adam"});
    t.lr = r.number("lr", t.lr, 0.0, 100.0);
    t.momentum = r.number("momentum", t.momentum, 0.0, 0.999999);
    t.weightDecay = r.number("weight_decay", t.weightDecay, 0.0, 1.0);
    t.nesterov = r.boolean("nesterov", t.nesterov);
    t.beta1 = r.number("beta1", t.beta1, 0.0, 0.999999);
    t.beta2 = r.number("beta2", t.beta2, 0.0, 0.999999999);
    t.lrSchedule = r.string("lr_schedule", t.lrSchedule, {"constant", "step", "cosine"});
    t.lrStepEpochs = int(r.integer("lr_step_epochs", t.lrStepEpochs, 1, 100000));
    t.lrGamma = r.number("lr_gamma", t.lrGamma, 0.0, 1.0);
    t.lrMin = r.number("lr_min", t.lrMin, 0.0, 100.0);
    t.logEvery = int(r.integer("log_every", t.logEvery, 1, 1000000));
    t.precision = r.string("precision", t.precision, {"inherit", "fp32", "bf16", "fp16", "auto"});
    t.limit = r.integer("limit", t.limit, 0, std::int64_t(1) << 40);
    r.finish();
    if (t.nesterov && (t.optimizer != "sgd" || t.momentum <= 0.0))
        throw Error(path + ".nesterov needs optimizer \"sgd\" with momentum > 0");
    if (t.lrSchedule == "cosine" && t.lrMin > t.lr)
        throw Error(path + ".lr_min (" + std::to_string(t.lrMin) + ") must not exceed "
                    + path + ".lr (" + std::to_string(t.lr) + ")");
    return t;
}

static nlohmann::json trainToJson(const TrainOptions &t)
{
    return {{"epochs", t.epochs},
            {"batch_size", t.batchSize},
            {"optimizer", t.optimizer},
            {"lr", t.lr},
            {"momentum", t.momentum},
            {"weight_decay", t.weightDecay},
            {"nesterov", t.nesterov},
            {"beta1", t.beta1},
            {"beta2", t.beta2},
            {"lr_schedule", t.lrSchedule},
            {"lr_step_epochs", t.lrStepEpochs},
            {"lr_gamma", t.lrGamma},
            {"lr_min", t.lrMin},
            {"log_every", t.logEvery},
            {"precision", t.precision},
            {"limit", t.limit}};
}

static ModelSpec readModel(const nlohmann::json &json, const std::string &path,
                           const ModelSpec &defaults, bool allowCheckpoint, bool allowGeneralist = false)
{
    ModelSpec m = defaults;
    JsonReader r(json, path);
    m.arch = r.string("arch", m.arch);
    if (m.arch.empty())
        throw Error(path + ".arch must name an architecture (see `kdw list architectures`)");
    const auto &opts = r.section("arch_options");
    if (!opts.is_null() && !opts.is_object())
        throw Error(path + ".arch_options must be a JSON object, got " + opts.dump());
    m.archOptions = opts.is_object() ? opts : nlohmann::json::object();
    if (allowCheckpoint)
        m.checkpoint = r.string("checkpoint", m.checkpoint);
    if (allowGeneralist)
        m.generalist = r.boolean("generalist", m.generalist);
    m.train = readTrain(r.section("train"), path + ".train");
    r.finish();
    return m;
}

/// A list of model specs ("assistants", "teachers"). Each entry starts from `defaults` except
/// the architecture, which it must name.
static std::vector<ModelSpec> readModelList(const nlohmann::json &json, const std::string &path,
                                            bool allowCheckpoint, bool allowGeneralist)
{
    std::vector<ModelSpec> out;
    if (json.is_null())
        return out;
    if (!json.is_array())
        throw Error(path + " must be a list of models like [{\"arch\": \"cnn_small\"}], got " + json.dump());
    for (std::size_t i = 0; i < json.size(); ++i) {
        const std::string where = path + "[" + std::to_string(i) + "]";
        if (!json[i].is_object())
            throw Error(where + " must be a model object like {\"arch\": \"cnn_small\"}, got " + json[i].dump());
        if (!json[i].contains("arch"))
            throw Error(where + ".arch is missing; name an architecture (see `kdw list architectures`)");
        out.push_back(readModel(json[i], where, ModelSpec{}, allowCheckpoint, allowGeneralist));
    }
    return out;
}

static DatasetOptions readDataset(const nlohmann::json &json, const std::string &path, DatasetOptions o)
{
    JsonReader d(json, path);
    o.name = d.string("name", o.name);
    o.path = d.string("path", o.path);
    o.limit = d.integer("limit", o.limit, 0, std::numeric_limits<int>::max());
    o.testLimit = d.integer("test_limit", o.testLimit, 0, std::numeric_limits<int>::max());
    o.valSplit = d.number("val_split", o.valSplit, 0.0, 0.9);
    o.normalize = d.boolean("normalize", o.normalize);
    o.labels = d.string("labels", o.labels, {"fine", "coarse"});
    o.imageSize = int(d.integer("image_size", o.imageSize, 0, 1024));
    o.channels = int(d.integer("channels", o.channels, 0, 3));
    if (o.channels == 2)
        throw Error(path + ".channels = 2 is not valid; use 1 (greyscale), 3 (colour) or 0 (default)");
    o.testSplit = d.number("test_split", o.testSplit, 0.01, 0.9);
    {
        JsonReader a(d.section("augment"), path + ".augment");
        o.randomCropPadding = int(a.integer("random_crop_padding", o.randomCropPadding, 0, 64));
        o.horizontalFlip = a.boolean("horizontal_flip", o.horizontalFlip);
        a.finish();
    }
    d.finish();
    return o;
}

static nlohmann::json datasetToJson(const DatasetOptions &d)
{
    return {{"name", d.name},
            {"path", d.path},
            {"limit", d.limit},
            {"test_limit", d.testLimit},
            {"val_split", d.valSplit},
            {"normalize", d.normalize},
            {"labels", d.labels},
            {"image_size", d.imageSize},
            {"channels", d.channels},
            {"test_split", d.testSplit},
            {"augment", {{"random_crop_padding", d.randomCropPadding}, {"horizontal_flip", d.horizontalFlip}}}};
}

Project Project::fromJson(const nlohmann::json &json)
{
    Project p;
    JsonReader r(json, "");
    p.name = r.string("name", p.name);
    if (p.name.empty() || p.name.find_first_of("/\\") != std::string::npos)
        throw Error("name must be a non-empty string without slashes");
    p.seed = std::uint64_t(r.integer("seed", (long long)p.seed, 0, std::numeric_limits<long long>::max()));
    p.device = r.string("device", p.device);
    {
        const auto &d = p.device;
        bool ok = d == "auto" || d == "cpu" || d == "cuda";
        if (!ok && d.rfind("cuda:", 0) == 0 && d.size() > 5)
            ok = d.find_first_not_of("0123456789", 5) == std::string::npos;
        if (!ok)
            throw Error("device = \"" + d + "\" is not valid; use \"auto\", \"cpu\", \"cuda\" or \"cuda:N\"");
    }
    p.threads = int(r.integer("threads", p.threads, 0, 256));
    p.precision = r.string("precision", p.precision, {"fp32", "bf16", "fp16", "auto"});
    p.outputDir = r.string("output_dir", p.outputDir);
    p.evalBatchSize = int(r.integer("eval_batch_size", p.evalBatchSize, 1, 1 << 20));
    p.teacherCache = r.string("teacher_cache", p.teacherCache, {"auto", "off"});
    p.teacherCacheMaxMB = r.integer("teacher_cache_max_mb", p.teacherCacheMaxMB, 0, 1 << 20);
    p.memoryFormat = r.string("memory_format", p.memoryFormat, {"auto", "channels_last", "contiguous"});
    p.baseline = r.boolean("baseline", p.baseline);

    {
        JsonReader a(r.section("analysis"), "analysis");
        p.analysis.enabled = a.boolean("enabled", p.analysis.enabled);
        p.analysis.probePerClass = int(a.integer("probe_per_class", p.analysis.probePerClass, 1, 64));
        p.analysis.featureMaps = a.boolean("feature_maps", p.analysis.featureMaps);
        a.finish();
    }
    {
        JsonReader c(r.section("checkpoints"), "checkpoints");
        p.checkpoints.everyEpochs = int(c.integer("every_epochs", p.checkpoints.everyEpochs, 0, 1 << 20));
        p.checkpoints.everyMinutes = c.number("every_minutes", p.checkpoints.everyMinutes, 0, 1e6);
        p.checkpoints.keep = int(c.integer("keep", p.checkpoints.keep, 1, 1000));
        c.finish();
    }
    {
        JsonReader n(r.section("numerics"), "numerics");
        p.numerics.onNonFinite = n.string("on_nonfinite", p.numerics.onNonFinite, {"stop", "skip"});
        p.numerics.maxConsecutiveSkips = int(n.integer("max_consecutive_skips", p.numerics.maxConsecutiveSkips, 1, 1 << 20));
        n.finish();
    }
    p.dataset = readDataset(r.section("dataset"), "dataset", p.dataset);
    {
        const auto &proxy = r.section("proxy");
        if (!proxy.is_null() && !proxy.is_object())
            throw Error("proxy must be a dataset object like {\"name\": \"mnist\"} or null, got " + proxy.dump());
        p.hasProxy = proxy.is_object();
        if (p.hasProxy)
            p.proxy = readDataset(proxy, "proxy", DatasetOptions{});
    }
    p.teacher = readModel(r.section("teacher"), "teacher", p.teacher, true);
    p.student = readModel(r.section("student"), "student", p.student, false);
    p.assistants = readModelList(r.section("assistants"), "assistants", false, false);
    p.teachers = readModelList(r.section("teachers"), "teachers", true, true);
    p.peers = readModelList(r.section("peers"), "peers", false, false);
    {
        const auto &m = r.section("method");
        if (!m.is_null() && !m.is_object())
            throw Error("method must be a JSON object like {\"name\": \"kd\", \"temperature\": 4}");
        p.method.params = nlohmann::json::object();
        if (m.is_object()) {
            for (auto it = m.begin(); it != m.end(); ++it) {
                if (it.key() == "name") {
                    if (!it.value().is_string())
                        throw Error("method.name must be a string, got " + it.value().dump());
                    p.method.name = it.value().get<std::string>();
                } else {
                    p.method.params[it.key()] = it.value();
                }
            }
        }
    }
    r.finish();
    return p;
}

nlohmann::json Project::toJson() const
{
    auto model = [](const ModelSpec &m, bool withCheckpoint, bool withGeneralist = false) {
        nlohmann::json j = {{"arch", m.arch}, {"arch_options", m.archOptions}, {"train", trainToJson(m.train)}};
        if (withCheckpoint)
            j["checkpoint"] = m.checkpoint;
        if (withGeneralist)
            j["generalist"] = m.generalist;
        return j;
    };
    nlohmann::json methodJson = method.params.is_object() ? method.params : nlohmann::json::object();
    methodJson["name"] = method.name;
    nlohmann::json assistantsJson = nlohmann::json::array(), teachersJson = nlohmann::json::array();
    for (const auto &a : assistants)
        assistantsJson.push_back(model(a, false));
    for (const auto &t : teachers)
        teachersJson.push_back(model(t, true, true));
    nlohmann::json peersJson = nlohmann::json::array();
    for (const auto &m : peers)
        peersJson.push_back(model(m, false));
    return {{"name", name},
            {"seed", seed},
            {"device", device},
            {"threads", threads},
            {"precision", precision},
            {"output_dir", outputDir},
            {"eval_batch_size", evalBatchSize},
            {"teacher_cache", teacherCache},
            {"teacher_cache_max_mb", teacherCacheMaxMB},
            {"memory_format", memoryFormat},
            {"baseline", baseline},
            {"analysis",
             {{"enabled", analysis.enabled},
              {"probe_per_class", analysis.probePerClass},
              {"feature_maps", analysis.featureMaps}}},
            {"checkpoints",
             {{"every_epochs", checkpoints.everyEpochs},
              {"every_minutes", checkpoints.everyMinutes},
              {"keep", checkpoints.keep}}},
            {"numerics",
             {{"on_nonfinite", numerics.onNonFinite}, {"max_consecutive_skips", numerics.maxConsecutiveSkips}}},
            {"dataset", datasetToJson(dataset)},
            {"proxy", hasProxy ? datasetToJson(proxy) : nlohmann::json(nullptr)},
            {"teacher", model(teacher, true)},
            {"student", model(student, false)},
            {"assistants", assistantsJson},
            {"teachers", teachersJson},
            {"peers", peersJson},
            {"method", methodJson}};
}

std::string readTextFile(const std::string &path)
{
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw Error("file not found: " + path);
    if (fs::is_directory(path, ec))
        throw Error(path + " is a directory; give the path of a file");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("cannot open " + path + " for reading (check its permissions)");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

nlohmann::json parseJsonText(const std::string &text, const std::string &sourceName)
{
    try {
        return nlohmann::json::parse(text, nullptr, true, /*ignore_comments=*/false);
    } catch (const nlohmann::json::parse_error &e) {
        // Convert the byte offset into line and column.
        std::size_t line = 1, column = 1;
        const std::size_t upto = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
        for (std::size_t i = 0; i < upto; ++i) {
            if (text[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        std::string what = e.what();
        // nlohmann's text: "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
        auto colon = what.find(": ", what.find("parse error"));
        std::string detail = colon == std::string::npos ? what : what.substr(colon + 2);
        throw Error(sourceName + ":" + std::to_string(line) + ":" + std::to_string(column)
                    + ": JSON syntax error: " + detail);
    } catch (const nlohmann::json::exception &e) {
        // Found by fuzz_project: a number too large for a double (out_of_range.406).
        std::string what = e.what();
        const auto bracket = what.find("] ");
        throw Error(sourceName + ": JSON value error: " + (bracket == std::string::npos ? what : what.substr(bracket + 2))
                    + "; write numbers within the range of a double");
    }
}

Project Project::load(const std::string &path)
{
    const auto json = parseJsonText(readTextFile(path), path);
    try {
        return fromJson(json);
    } catch (const Error &e) {
        throw Error(path + ": " + e.what());
    }
}

void Project::save(const std::string &path) const
{
    writeFileAtomically(path, toJson().dump(2) + "\n");
}

namespace {

/// Whether `text` is well-formed UTF-8 (JSON strings must be; a --set value typed in another
/// encoding would otherwise fail much later, when the project is written).
bool isUtf8(const std::string &text)
{
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        const int extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
        if (extra < 0 || (extra == 1 && c < 0xC2) || i + std::size_t(extra) >= text.size() + (extra == 0 ? 1 : 0))
            return false;
        for (int k = 1; k <= extra; ++k)
            if ((static_cast<unsigned char>(text[i + std::size_t(k)]) >> 6) != 0x2)
                return false;
        if (extra >= 2) {
            const auto c1 = static_cast<unsigned char>(text[i + 1]);
            if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)
                || c > 0xF4)
                return false;
        }
        i += std::size_t(extra) + 1;
    }
    return true;
}

} // namespace

void applyOverride(nlohmann::json &doc, const std::string &assignment)
{
    if (!isUtf8(assignment))
        throw Error("--set " + nlohmann::json(assignment).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace)
                    + " is not valid UTF-8 text; write it in UTF-8 (check the terminal's encoding)");
    auto eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0)
        throw Error("--set expects dotted.path=value (e.g. student.train.epochs=3), got \""
                    + assignment + "\"");
    const std::string path = assignment.substr(0, eq);
    const std::string text = assignment.substr(eq + 1);
    nlohmann::json value;
    try {
        value = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error &) {
        value = text; // bare words are strings: --set student.arch=mlp
    } catch (const nlohmann::json::exception &) {
        // Found by fuzz_project: a number beyond a double's range (out_of_range.406).
        throw Error("--set " + assignment + ": the number is beyond the range of a double; give a smaller one");
    }
    if (!doc.is_object())
        doc = nlohmann::json::object();
    nlohmann::json *node = &doc;
    std::size_t start = 0;
    while (true) {
        auto dot = path.find('.', start);
        std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (key.empty())
            throw Error("--set " + assignment + ": empty key in path \"" + path + "\"");
        if (dot == std::string::npos) {
            (*node)[key] = value;
            return;
        }
        auto &child = (*node)[key];
        if (child.is_null())
            child = nlohmann::json::object();
        if (!child.is_object())
            throw Error("--set " + assignment + ": " + path.substr(0, dot) + " is not an object");
        node = &child;
        start = dot + 1;
    }
}

void writeFileAtomically(const std::string &path, const std::string &text)
{
    const fs::path target(path);
    if (target.has_parent_path()) {
        std::error_code ec;
        fs::create_directories(target.parent_path(), ec);
    }
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out)
            throw Error("cannot write " + tmp + " (check that the folder exists and is writable)");
        out << text;
        out.flush();
        if (!out) {
            out.close();
            std::error_code ec;
            fs::remove(tmp, ec);
            throw Error("writing " + tmp + " failed (disk full?); " + path + " was left as it was");
        }
    }
    commitFile(tmp, path);
}

} // namespace kd
