#pragma once

#include <QComboBox>

#include <string>
#include <vector>

namespace kd::ui {

/// Combo box of registry names (architectures, methods, datasets) with each entry's
/// description as its tooltip. A name that is not registered (say, from a project file
/// written for another version) is still shown, marked "unknown", so the project keeps it
/// and validation can explain the problem instead of the editor silently replacing it.
class RegistryComboBox : public QComboBox {
    Q_OBJECT

public:
    explicit RegistryComboBox(QWidget *parent = nullptr);

    /// Fills the box; `descriptions` has one entry per name (may be empty).
    void setEntries(const std::vector<std::string> &names, const std::vector<std::string> &descriptions);
    void setCurrentName(const std::string &name);
    std::string currentName() const;
    bool isCurrentKnown() const;

Q_SIGNALS:
    void nameChanged(const std::string &name);
};

} // namespace kd::ui
