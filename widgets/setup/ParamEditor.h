#pragma once

#include <project/ParamSpec.h>

#include <QStringList>
#include <QWidget>

#include <vector>

class QFormLayout;
class QComboBox;
class QLabel;

namespace kd::ui {

/// Editors generated from ParamSpec declarations: a spin box per number or integer, a
/// check box per flag, a combo box per choice, a line edit per integer list ("128,64").
/// Tooltips carry the help text, the allowed range and the default.
///
/// values() returns only the keys that were given to setValues() or edited since, so an
/// unedited project round-trips exactly and defaults stay the engine's to fill in. A value
/// that cannot be shown (wrong type, out of range) is kept as it was and its label turns
/// red, so validation reports it instead of the editor silently clamping it. Keys that are
/// not parameters at all are listed in red with a button to remove them.
class ParamEditor : public QWidget {
    Q_OBJECT

public:
    explicit ParamEditor(QWidget *parent = nullptr);

    /// Rebuilds the editors; every value starts at its default (not explicit).
    void setSpecs(const std::vector<kd::ParamSpec> &specs);
    void setValues(const nlohmann::json &values);
    nlohmann::json values() const;

    QWidget *editorFor(const QString &key) const;
    /// Feature names offered (besides "all" and "last") by parameters that name student or
    /// teacher features; the typed text stays free, so lists such as "stage2,stage3" work.
    void setFeatureNames(const QStringList &student, const QStringList &teacher);
    /// The items a feature parameter offers now (empty for other parameters).
    QStringList featureChoices(const QString &key) const;
    int rowCount() const { return int(m_rows.size()); }

Q_SIGNALS:
    void changed();

private:
    struct Row {
        kd::ParamSpec spec;
        QLabel *label = nullptr;
        QWidget *editor = nullptr;
        bool isExplicit = false;
        nlohmann::json value;
    };

    QWidget *createEditor(std::size_t index);
    void fillFeatureItems(QComboBox *box, kd::ParamSpec::Hint hint) const;
    /// Shows `value` in the row's editor; false when the editor cannot represent it.
    bool showValue(Row &row, const nlohmann::json &value);
    nlohmann::json readEditor(const Row &row) const;
    void editorEdited(std::size_t index);
    void setRowValid(Row &row, bool valid, const nlohmann::json &value);
    void rebuildUnknownRows();
    void clearLayout();

    QFormLayout *m_form;
    std::vector<Row> m_rows;
    nlohmann::json m_unknown = nlohmann::json::object();
    std::vector<QWidget *> m_unknownWidgets;
    bool m_updating = false;
    QStringList m_studentFeatures, m_teacherFeatures;
};

} // namespace kd::ui
