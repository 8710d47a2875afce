#include "DatasetEditor.h"

#include "setup/FilePathEdit.h"
#include "setup/FormHelpers.h"
#include "setup/NumberSpinBox.h"
#include "setup/RegistryComboBox.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QLabel>
#include <QSpinBox>

#include <climits>

namespace kd::ui {

namespace {

QSpinBox *spinBox(QWidget *parent, int lo, int hi, const QString &special, const QString &tip)
{
    auto *box = new QSpinBox(parent);
    box->setRange(lo, hi);
    box->setSpecialValueText(special);
    box->setKeyboardTracking(false);
    box->setToolTip(tip);
    return box;
}

} // namespace

DatasetEditor::DatasetEditor(const kd::DatasetRegistry &registry, QWidget *parent)
    : QWidget(parent),
      m_registry(registry),
      m_form(makeForm(this)),
      m_name(new RegistryComboBox(this)),
      m_path(new FilePathEdit(FilePathEdit::Mode::Directory, this)),
      m_status(new QLabel(this)),
      m_labels(new QComboBox(this)),
      m_imageSize(spinBox(this, 0, 1024, tr("default"),
                          tr("Image folders and synthetic data: resize to N×N pixels (0: 32 for folders, 28 for synthetic)."))),
      m_channels(spinBox(this, 0, 3, tr("default"),
                         tr("Image folders and synthetic data: 1 (greyscale) or 3 (colour); 0: the default (3 for folders, 1 for synthetic)."))),
      m_testSplit(new NumberSpinBox(this)),
      m_limit(spinBox(this, 0, INT_MAX, tr("all"),
                      tr("Use only the first N training images (0: all). Small limits make quick experiments."))),
      m_testLimit(spinBox(this, 0, INT_MAX, tr("all"), tr("Evaluate on only the first N test images (0: all)."))),
      m_valSplit(new NumberSpinBox(this)),
      m_normalize(new QCheckBox(tr("Subtract mean, divide by std"), this)),
      m_cropPadding(spinBox(this, 0, 64, tr("off"),
                            tr("Augmentation: pad each training image by N pixels, then crop a random "
                               "window of the original size (0: off; 4 is usual for CIFAR)."))),
      m_flip(new QCheckBox(tr("Random horizontal flip"), this))
{
    std::vector<std::string> descriptions;
    for (const auto &n : registry.names())
        descriptions.push_back(registry.get(n).description);
    m_name->setEntries(registry.names(), descriptions);
    m_name->setToolTip(tr("Which dataset to train and test on."));
    m_path->setToolTip(tr("Folder with the dataset's files. Empty: look in the dataset's default locations. "
                          "\"~/\" and \"$KD_DATA/\" are expanded."));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_labels->addItems({QStringLiteral("fine"), QStringLiteral("coarse")});
    m_labels->setToolTip(tr("CIFAR-100 label set: fine (100 classes) or coarse (20 superclasses)."));
    m_limit->setSingleStep(1000);
    m_testLimit->setSingleStep(1000);
    m_testSplit->setRange(0.01, 0.9);
    m_testSplit->setSingleStep(0.05);
    m_testSplit->setToolTip(tr("Image folder without train/ and test/ sub-folders: fraction of the "
                               "images held out (seeded) as the test set, in [0.01, 0.9]."));
    m_valSplit->setRange(0.0, 0.9);
    m_valSplit->setSingleStep(0.05);
    m_valSplit->setToolTip(tr("Fraction of the training images held out for validation, in [0, 0.9]."));
    m_normalize->setToolTip(tr("Subtract the dataset mean and divide by its standard deviation per channel."));
    m_flip->setToolTip(tr("Augmentation: mirror each training image left-right with probability 0.5."));

    m_form->addRow(tr("Dataset"), m_name);
    m_form->addRow(tr("Folder"), m_path);
    m_form->addRow(QString(), m_status);
    m_form->addRow(tr("Labels"), m_labels);
    m_form->addRow(tr("Image size"), m_imageSize);
    m_form->addRow(tr("Channels"), m_channels);
    m_form->addRow(tr("Test split"), m_testSplit);
    m_form->addRow(tr("Training limit"), m_limit);
    m_form->addRow(tr("Test limit"), m_testLimit);
    m_form->addRow(tr("Validation split"), m_valSplit);
    m_form->addRow(tr("Normalize"), m_normalize);
    m_form->addRow(tr("Random crop pad"), m_cropPadding);
    m_form->addRow(tr("Flip"), m_flip);
    shareTooltipsWithLabels(m_form);

    auto emitChanged = [this] { Q_EMIT changed(); };
    connect(m_name, &RegistryComboBox::nameChanged, this, [this, emitChanged] {
        updateVisibleRows();
        updateStatus();
        emitChanged();
    });
    connect(m_path, &FilePathEdit::pathChanged, this, [this, emitChanged] {
        updateStatus();
        emitChanged();
    });
    connect(m_labels, &QComboBox::currentIndexChanged, this, emitChanged);
    for (QSpinBox *b : {m_imageSize, m_channels, m_limit, m_testLimit, m_cropPadding})
        connect(b, &QSpinBox::valueChanged, this, emitChanged);
    for (NumberSpinBox *b : {m_testSplit, m_valSplit})
        connect(b, &QDoubleSpinBox::valueChanged, this, emitChanged);
    for (QCheckBox *b : {m_normalize, m_flip})
        connect(b, &QCheckBox::toggled, this, emitChanged);
    setOptions(kd::DatasetOptions());
}

void DatasetEditor::setOptions(const kd::DatasetOptions &o)
{
    {
        const QSignalBlocker blockers[] = {
            QSignalBlocker(m_name),      QSignalBlocker(m_path),      QSignalBlocker(m_labels),
            QSignalBlocker(m_imageSize), QSignalBlocker(m_channels),  QSignalBlocker(m_testSplit),
            QSignalBlocker(m_limit),     QSignalBlocker(m_testLimit), QSignalBlocker(m_valSplit),
            QSignalBlocker(m_normalize), QSignalBlocker(m_cropPadding), QSignalBlocker(m_flip)};
        Q_UNUSED(blockers);
        m_name->setCurrentName(o.name);
        m_path->setPath(QString::fromStdString(o.path));
        m_labels->setCurrentText(QString::fromStdString(o.labels));
        m_imageSize->setValue(o.imageSize);
        m_channels->setValue(o.channels);
        m_testSplit->setValue(o.testSplit);
        m_limit->setValue(int(std::min<std::int64_t>(o.limit, INT_MAX)));
        m_testLimit->setValue(int(std::min<std::int64_t>(o.testLimit, INT_MAX)));
        m_valSplit->setValue(o.valSplit);
        m_normalize->setChecked(o.normalize);
        m_cropPadding->setValue(o.randomCropPadding);
        m_flip->setChecked(o.horizontalFlip);
    }
    updateVisibleRows();
    updateStatus();
}

kd::DatasetOptions DatasetEditor::options() const
{
    kd::DatasetOptions o;
    o.name = m_name->currentName();
    o.path = m_path->path().toStdString();
    o.labels = m_labels->currentText().toStdString();
    o.imageSize = m_imageSize->value();
    o.channels = m_channels->value();
    o.testSplit = m_testSplit->value();
    o.limit = m_limit->value();
    o.testLimit = m_testLimit->value();
    o.valSplit = m_valSplit->value();
    o.normalize = m_normalize->isChecked();
    o.randomCropPadding = m_cropPadding->value();
    o.horizontalFlip = m_flip->isChecked();
    return o;
}

QString DatasetEditor::statusText() const
{
    return m_status->text();
}

void DatasetEditor::updateVisibleRows()
{
    const std::string name = m_name->currentName();
    const std::string format = m_registry.contains(name) ? m_registry.get(name).format : std::string();
    const bool sized = format == "image-folder" || format == "synthetic";
    m_form->setRowVisible(m_labels, name == "cifar100");
    m_form->setRowVisible(m_imageSize, sized);
    m_form->setRowVisible(m_channels, sized);
    m_form->setRowVisible(m_testSplit, format == "image-folder");
    m_form->setRowVisible(m_path, format != "synthetic");
}

void DatasetEditor::updateStatus()
{
    auto show = [this](const QString &text, bool ok) {
        m_status->setText(text);
        m_status->setStyleSheet(ok ? QStringLiteral("color: #1a7f37;") : QStringLiteral("color: #c00000;"));
    };
    const std::string name = m_name->currentName();
    if (!m_registry.contains(name))
        return show(tr("Unknown dataset; choose one from the list."), false);
    const kd::DatasetEntry &entry = m_registry.get(name);
    if (!entry.needsFiles())
        return show(tr("Generated from the seed; no files needed."), true);

    QStringList defaults;
    for (const auto &p : entry.defaultPaths)
        defaults << QString::fromStdString(kd::expandDataPath(p));
    m_path->setPlaceholderText(defaults.isEmpty() ? tr("required: the folder with the files") : tr("default locations"));

    // probe() only lists a folder or two: cheap enough to run on every keystroke.
    if (m_path->path().isEmpty()) {
        if (defaults.isEmpty())
            return show(tr("✗ This dataset has no default location; choose its folder."), false);
        const std::string found = entry.locate();
        if (found.empty())
            return show(tr("✗ Not found in the default locations:\n%1").arg(defaults.join(QLatin1Char('\n'))), false);
        return show(tr("✓ Found in %1").arg(QString::fromStdString(found)), true);
    }
    const std::string path = kd::expandDataPath(m_path->path().toStdString());
    const std::string missing = entry.probe ? entry.probe(path) : std::string();
    if (missing.empty())
        return show(tr("✓ Files found (%1)").arg(QString::fromStdString(entry.format)), true);
    show(tr("✗ %1").arg(QString::fromStdString(missing)), false);
}

} // namespace kd::ui
