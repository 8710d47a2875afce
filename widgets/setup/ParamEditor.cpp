#include "ParamEditor.h"

#include "setup/NumberSpinBox.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QToolButton>

#include <algorithm>
#include <climits>
#include <cmath>

namespace kd::ui {

namespace {

using Type = kd::ParamSpec::Type;

QString tooltipFor(const kd::ParamSpec &spec)
{
    return QStringLiteral("%1\nExpected: %2\nDefault: %3")
        .arg(QString::fromStdString(spec.help), QString::fromStdString(kd::describeRange(spec)),
             QString::fromStdString(spec.defaultValue.dump()));
}

bool inRange(const kd::ParamSpec &spec, double v)
{
    return std::isfinite(v) && v >= spec.minValue && v <= spec.maxValue;
}

QString intListText(const nlohmann::json &list)
{
    QStringList parts;
    for (const auto &e : list)
        parts << QString::number(e.get<long long>());
    return parts.join(QLatin1Char(','));
}

/// "128, 64" → [128, 64]; anything else is returned as the raw string, which validation
/// then rejects with a message that says what is expected.
nlohmann::json parseIntList(const QString &text)
{
    nlohmann::json out = nlohmann::json::array();
    const QStringList parts = text.split(QLatin1Char(','), Qt::KeepEmptyParts);
    for (const QString &p : parts) {
        bool ok = false;
        const long long v = p.trimmed().toLongLong(&ok);
        if (!ok)
            return text.toStdString();
        out.push_back(v);
    }
    return out;
}

} // namespace

ParamEditor::ParamEditor(QWidget *parent) : QWidget(parent), m_form(new QFormLayout(this))
{
    m_form->setContentsMargins(0, 0, 0, 0);
    m_form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
}

void ParamEditor::clearLayout()
{
    while (m_form->rowCount() > 0)
        m_form->removeRow(0); // deletes the row's widgets
    m_rows.clear();
    m_unknownWidgets.clear();
}

void ParamEditor::setSpecs(const std::vector<kd::ParamSpec> &specs)
{
    clearLayout();
    m_unknown = nlohmann::json::object();
    if (specs.empty()) {
        auto *none = new QLabel(tr("No options."), this);
        none->setEnabled(false);
        m_form->addRow(none);
    }
    m_rows.resize(specs.size());
    for (std::size_t i = 0; i < specs.size(); ++i) {
        Row &row = m_rows[i];
        row.spec = specs[i];
        row.label = new QLabel(QString::fromStdString(specs[i].key), this);
        row.editor = createEditor(i);
        row.label->setToolTip(tooltipFor(specs[i]));
        row.editor->setToolTip(tooltipFor(specs[i]));
        m_form->addRow(row.label, row.editor);
        m_updating = true;
        showValue(row, specs[i].defaultValue);
        m_updating = false;
    }
}

QWidget *ParamEditor::createEditor(std::size_t index)
{
    const kd::ParamSpec &spec = m_rows[index].spec;
    auto edited = [this, index] { editorEdited(index); };
    switch (spec.type) {
    case Type::Number: {
        auto *box = new NumberSpinBox(this);
        box->setRange(spec.minValue, spec.maxValue);
        connect(box, &QDoubleSpinBox::valueChanged, this, edited);
        return box;
    }
    case Type::Integer: {
        auto *box = new QSpinBox(this);
        box->setRange(int(std::max<double>(spec.minValue, INT_MIN)), int(std::min<double>(spec.maxValue, INT_MAX)));
        box->setKeyboardTracking(false);
        connect(box, &QSpinBox::valueChanged, this, edited);
        return box;
    }
    case Type::Bool: {
        auto *box = new QCheckBox(this);
        connect(box, &QCheckBox::toggled, this, edited);
        return box;
    }
    case Type::String:
        if (spec.hint != kd::ParamSpec::Hint::None) {
            // Feature names: a list to pick from, but still free text for "stage2,stage3".
            auto *box = new QComboBox(this);
            box->setEditable(true);
            box->setInsertPolicy(QComboBox::NoInsert);
            fillFeatureItems(box, spec.hint);
            connect(box->lineEdit(), &QLineEdit::editingFinished, this, edited);
            connect(box, &QComboBox::activated, this, edited);
            return box;
        }
        if (!spec.choices.empty()) {
            auto *box = new QComboBox(this);
            for (const auto &c : spec.choices)
                box->addItem(QString::fromStdString(c));
            connect(box, &QComboBox::currentIndexChanged, this, edited);
            return box;
        } else {
            auto *edit = new QLineEdit(this);
            connect(edit, &QLineEdit::editingFinished, this, edited);
            return edit;
        }
    case Type::IntList: {
        auto *edit = new QLineEdit(this);
        edit->setPlaceholderText(tr("comma-separated, e.g. 128,64"));
        connect(edit, &QLineEdit::editingFinished, this, edited);
        return edit;
    }
    }
    return new QWidget(this);
}

bool ParamEditor::showValue(Row &row, const nlohmann::json &v)
{
    const kd::ParamSpec &spec = row.spec;
    switch (spec.type) {
    case Type::Number:
        if (!v.is_number() || !inRange(spec, v.get<double>()))
            return false;
        static_cast<QDoubleSpinBox *>(row.editor)->setValue(v.get<double>());
        return true;
    case Type::Integer:
        if (!v.is_number_integer() || !inRange(spec, double(v.get<long long>())))
            return false;
        static_cast<QSpinBox *>(row.editor)->setValue(int(v.get<long long>()));
        return true;
    case Type::Bool:
        if (!v.is_boolean())
            return false;
        static_cast<QCheckBox *>(row.editor)->setChecked(v.get<bool>());
        return true;
    case Type::String:
        if (!v.is_string())
            return false;
        if (auto *box = qobject_cast<QComboBox *>(row.editor); box && box->isEditable()) {
            box->setEditText(QString::fromStdString(v.get<std::string>()));
        } else if (box) {
            const int i = box->findText(QString::fromStdString(v.get<std::string>()));
            if (i < 0)
                return false;
            box->setCurrentIndex(i);
        } else {
            static_cast<QLineEdit *>(row.editor)->setText(QString::fromStdString(v.get<std::string>()));
        }
        return true;
    case Type::IntList:
        if (!v.is_array())
            return false;
        for (const auto &e : v)
            if (!e.is_number_integer() || !inRange(spec, double(e.get<long long>())))
                return false;
        static_cast<QLineEdit *>(row.editor)->setText(intListText(v));
        return true;
    }
    return false;
}

void ParamEditor::fillFeatureItems(QComboBox *box, kd::ParamSpec::Hint hint) const
{
    const QString text = box->currentText();
    box->clear();
    box->addItem(QStringLiteral("all"));
    box->addItem(QStringLiteral("last"));
    box->addItems(hint == kd::ParamSpec::Hint::StudentFeatures ? m_studentFeatures : m_teacherFeatures);
    box->setEditText(text);
}

void ParamEditor::setFeatureNames(const QStringList &student, const QStringList &teacher)
{
    if (student == m_studentFeatures && teacher == m_teacherFeatures)
        return;
    m_studentFeatures = student;
    m_teacherFeatures = teacher;
    const bool wasUpdating = m_updating;
    m_updating = true;
    for (auto &row : m_rows)
        if (row.spec.hint != kd::ParamSpec::Hint::None)
            if (auto *box = qobject_cast<QComboBox *>(row.editor))
                fillFeatureItems(box, row.spec.hint);
    m_updating = wasUpdating;
}

QStringList ParamEditor::featureChoices(const QString &key) const
{
    QStringList out;
    if (auto *box = qobject_cast<QComboBox *>(editorFor(key)); box && box->isEditable())
        for (int i = 0; i < box->count(); ++i)
            out << box->itemText(i);
    return out;
}

nlohmann::json ParamEditor::readEditor(const Row &row) const
{
    switch (row.spec.type) {
    case Type::Number:
        return static_cast<QDoubleSpinBox *>(row.editor)->value();
    case Type::Integer:
        return static_cast<QSpinBox *>(row.editor)->value();
    case Type::Bool:
        return static_cast<QCheckBox *>(row.editor)->isChecked();
    case Type::String:
        if (auto *box = qobject_cast<QComboBox *>(row.editor))
            return box->currentText().toStdString();
        return static_cast<QLineEdit *>(row.editor)->text().toStdString();
    case Type::IntList:
        return parseIntList(static_cast<QLineEdit *>(row.editor)->text());
    }
    return nullptr;
}

void ParamEditor::setRowValid(Row &row, bool valid, const nlohmann::json &value)
{
    row.label->setStyleSheet(valid ? QString() : QStringLiteral("color: #c00000;"));
    QString tip = tooltipFor(row.spec);
    if (!valid)
        tip.prepend(tr("The project's value %1 is not valid here; edit the field to replace it.\n\n")
                        .arg(QString::fromStdString(value.dump())));
    row.label->setToolTip(tip);
    row.editor->setToolTip(tip);
}

void ParamEditor::setValues(const nlohmann::json &values)
{
    m_updating = true;
    m_unknown = nlohmann::json::object();
    for (Row &row : m_rows) {
        const bool given = values.is_object() && values.contains(row.spec.key);
        row.isExplicit = given;
        row.value = given ? values.at(row.spec.key) : row.spec.defaultValue;
        const bool ok = showValue(row, row.value);
        if (!ok)
            showValue(row, row.spec.defaultValue);
        setRowValid(row, ok, row.value);
    }
    if (values.is_object())
        for (auto it = values.begin(); it != values.end(); ++it) {
            bool known = false;
            for (const Row &row : m_rows)
                known = known || row.spec.key == it.key();
            if (!known)
                m_unknown[it.key()] = it.value();
        }
    m_updating = false;
    rebuildUnknownRows();
}

nlohmann::json ParamEditor::values() const
{
    nlohmann::json out = m_unknown;
    for (const Row &row : m_rows)
        if (row.isExplicit)
            out[row.spec.key] = row.value;
    return out;
}

QWidget *ParamEditor::editorFor(const QString &key) const
{
    for (const Row &row : m_rows)
        if (QString::fromStdString(row.spec.key) == key)
            return row.editor;
    return nullptr;
}

void ParamEditor::editorEdited(std::size_t index)
{
    if (m_updating || index >= m_rows.size())
        return;
    Row &row = m_rows[index];
    row.isExplicit = true;
    row.value = readEditor(row);
    setRowValid(row, true, row.value);
    Q_EMIT changed();
}

void ParamEditor::rebuildUnknownRows()
{
    for (QWidget *w : m_unknownWidgets)
        m_form->removeRow(w);
    m_unknownWidgets.clear();
    for (auto it = m_unknown.begin(); it != m_unknown.end(); ++it) {
        const QString key = QString::fromStdString(it.key());
        auto *field = new QWidget(this);
        auto *layout = new QHBoxLayout(field);
        layout->setContentsMargins(0, 0, 0, 0);
        auto *text = new QLabel(tr("%1 — not a parameter here").arg(QString::fromStdString(it.value().dump())), field);
        text->setStyleSheet(QStringLiteral("color: #c00000;"));
        auto *remove = new QToolButton(field);
        remove->setText(tr("Remove"));
        remove->setToolTip(tr("Drop the unknown key \"%1\" from the project").arg(key));
        layout->addWidget(text, 1);
        layout->addWidget(remove);
        auto *label = new QLabel(key, this);
        label->setStyleSheet(QStringLiteral("color: #c00000;"));
        m_form->addRow(label, field);
        m_unknownWidgets.push_back(field);
        const std::string k = it.key();
        connect(remove, &QToolButton::clicked, this, [this, k] {
            m_unknown.erase(k);
            // Defer: this button is about to be deleted with its row.
            QMetaObject::invokeMethod(this, [this] { rebuildUnknownRows(); Q_EMIT changed(); }, Qt::QueuedConnection);
        });
    }
}

} // namespace kd::ui
