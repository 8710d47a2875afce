#include "RunSettingsEditor.h"

#include "setup/FilePathEdit.h"
#include "setup/FormHelpers.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QLineEdit>
#include <QRegularExpressionValidator>
#include <QSpinBox>

#include <algorithm>

namespace kd::ui {

namespace {

QComboBox *choiceBox(QWidget *parent, const QStringList &items, const QString &tip)
{
    auto *box = new QComboBox(parent);
    box->addItems(items);
    box->setToolTip(tip);
    return box;
}

} // namespace

RunSettingsEditor::RunSettingsEditor(QWidget *parent)
    : QWidget(parent),
      m_name(new QLineEdit(this)),
      m_seed(new QLineEdit(this)),
      m_device(choiceBox(this, {QStringLiteral("auto"), QStringLiteral("cpu"), QStringLiteral("cuda")},
                         tr("Where to train: auto (CUDA when available, else CPU), cpu, cuda or cuda:N."))),
      m_precision(choiceBox(this, {QStringLiteral("fp32"), QStringLiteral("bf16"), QStringLiteral("fp16"), QStringLiteral("auto")},
                            tr("Arithmetic of the models' forwards: fp32; bf16; fp16 (CUDA, with loss scaling); "
                               "auto: bf16 where the device computes it in hardware (CPUs with AMX or AVX-512 BF16, "
                               "GPUs with bf16 tensor cores), else fp32. Weights, BatchNorm statistics and every "
                               "distillation loss stay fp32; the log says what was chosen and why."))),
      m_threads(new QSpinBox(this)),
      m_outputDir(new FilePathEdit(FilePathEdit::Mode::Directory, this)),
      m_evalBatch(new QSpinBox(this)),
      m_teacherCache(choiceBox(this, {QStringLiteral("auto"), QStringLiteral("off")},
                               tr("auto: for methods that use only the teacher's logits, on data without "
                                  "augmentation, compute the teacher's outputs once and reuse them every "
                                  "epoch (much faster); off: always run the teacher live."))),
      m_teacherCacheMB(new QSpinBox(this)),
      m_memoryFormat(choiceBox(this, {QStringLiteral("auto"), QStringLiteral("channels_last"), QStringLiteral("contiguous")},
                               tr("Layout of convolution weights and image batches: auto (channels_last on "
                                  "the CPU, where its convolutions are faster), channels_last or contiguous."))),
      m_baseline(new QCheckBox(tr("Also train the student from scratch"), this))
{
    m_name->setObjectName(QStringLiteral("name"));
    m_name->setToolTip(tr("Project name; runs are written to <output folder>/<name>-<timestamp>. No slashes."));
    m_seed->setObjectName(QStringLiteral("seed"));
    m_seed->setValidator(new QRegularExpressionValidator(QRegularExpression(QStringLiteral("\\d{1,18}")), m_seed));
    m_seed->setToolTip(tr("Random seed for initialisation, shuffling and the validation split; "
                          "the same seed reproduces the same run on the same device."));
    m_device->setEditable(true);
    m_threads->setRange(0, 256);
    m_threads->setSpecialValueText(tr("auto"));
    m_threads->setToolTip(tr("CPU threads used for training (0: automatic)."));
    m_outputDir->setToolTip(tr("Folder that receives the run directories (relative paths: to the working directory)."));
    m_evalBatch->setRange(1, 1 << 20);
    m_evalBatch->setToolTip(tr("Images per batch when measuring accuracy (and building the teacher cache); larger "
                               "batches use more memory and, on a CPU, are no faster than the default 256."));
    m_teacherCacheMB->setRange(0, 1 << 20);
    m_teacherCacheMB->setSuffix(tr(" MB"));
    m_teacherCacheMB->setToolTip(tr("Largest teacher-output cache to build; above it the teacher runs live."));
    m_baseline->setToolTip(tr("Trains a second student with plain cross-entropy (no teacher), so the "
                              "accuracy plot and summary show what distillation gained."));

    QFormLayout *form = makeForm(this);
    form->addRow(tr("Name"), m_name);
    form->addRow(tr("Seed"), m_seed);
    form->addRow(tr("Device"), m_device);
    form->addRow(tr("Precision"), m_precision);
    form->addRow(tr("CPU threads"), m_threads);
    form->addRow(tr("Output folder"), m_outputDir);
    form->addRow(tr("Eval batch size"), m_evalBatch);
    form->addRow(tr("Teacher cache"), m_teacherCache);
    form->addRow(tr("Cache limit"), m_teacherCacheMB);
    form->addRow(tr("Memory format"), m_memoryFormat);
    form->addRow(tr("Baseline"), m_baseline);
    shareTooltipsWithLabels(form);

    auto emitChanged = [this] { Q_EMIT changed(); };
    connect(m_name, &QLineEdit::textEdited, this, emitChanged);
    connect(m_seed, &QLineEdit::textEdited, this, emitChanged);
    connect(m_device, &QComboBox::currentTextChanged, this, emitChanged);
    connect(m_outputDir, &FilePathEdit::pathChanged, this, emitChanged);
    for (QSpinBox *b : {m_threads, m_evalBatch, m_teacherCacheMB})
        connect(b, &QSpinBox::valueChanged, this, emitChanged);
    for (QComboBox *b : {m_precision, m_teacherCache, m_memoryFormat})
        connect(b, &QComboBox::currentIndexChanged, this, emitChanged);
    connect(m_baseline, &QCheckBox::toggled, this, emitChanged);
}

void RunSettingsEditor::setProject(const kd::Project &p)
{
    const QSignalBlocker blockers[] = {
        QSignalBlocker(m_name),         QSignalBlocker(m_seed),           QSignalBlocker(m_device),
        QSignalBlocker(m_threads),      QSignalBlocker(m_outputDir),      QSignalBlocker(m_evalBatch),
        QSignalBlocker(m_teacherCache), QSignalBlocker(m_teacherCacheMB), QSignalBlocker(m_memoryFormat),
        QSignalBlocker(m_baseline),     QSignalBlocker(m_precision)};
    Q_UNUSED(blockers);
    m_name->setText(QString::fromStdString(p.name));
    m_seed->setText(QString::number(qulonglong(p.seed)));
    m_device->setCurrentText(QString::fromStdString(p.device));
    m_precision->setCurrentText(QString::fromStdString(p.precision));
    m_threads->setValue(p.threads);
    m_outputDir->setPath(QString::fromStdString(p.outputDir));
    m_evalBatch->setValue(p.evalBatchSize);
    m_teacherCache->setCurrentText(QString::fromStdString(p.teacherCache));
    m_teacherCacheMB->setValue(int(std::min<std::int64_t>(p.teacherCacheMaxMB, 1 << 20)));
    m_memoryFormat->setCurrentText(QString::fromStdString(p.memoryFormat));
    m_baseline->setChecked(p.baseline);
}

void RunSettingsEditor::applyTo(kd::Project &p) const
{
    p.name = m_name->text().trimmed().toStdString();
    p.seed = m_seed->text().toULongLong();
    p.device = m_device->currentText().trimmed().toStdString();
    p.precision = m_precision->currentText().toStdString();
    p.threads = m_threads->value();
    p.outputDir = m_outputDir->path().toStdString();
    p.evalBatchSize = m_evalBatch->value();
    p.teacherCache = m_teacherCache->currentText().toStdString();
    p.teacherCacheMaxMB = m_teacherCacheMB->value();
    p.memoryFormat = m_memoryFormat->currentText().toStdString();
    p.baseline = m_baseline->isChecked();
}

} // namespace kd::ui
