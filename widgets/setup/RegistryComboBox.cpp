#include "RegistryComboBox.h"

#include <QColor>

namespace kd::ui {

namespace {
constexpr int NameRole = Qt::UserRole;
constexpr int KnownRole = Qt::UserRole + 1;
} // namespace

RegistryComboBox::RegistryComboBox(QWidget *parent) : QComboBox(parent)
{
    setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    setMinimumContentsLength(12);
    connect(this, &QComboBox::currentIndexChanged, this, [this] {
        // Leaving an unknown name for a real one drops the unknown entry.
        for (int i = count() - 1; i >= 0; --i)
            if (i != currentIndex() && !itemData(i, KnownRole).toBool()) {
                QSignalBlocker block(this);
                removeItem(i);
            }
        Q_EMIT nameChanged(currentName());
    });
}

void RegistryComboBox::setEntries(const std::vector<std::string> &names,
                                  const std::vector<std::string> &descriptions)
{
    QSignalBlocker block(this);
    clear();
    for (std::size_t i = 0; i < names.size(); ++i) {
        const QString name = QString::fromStdString(names[i]);
        addItem(name);
        setItemData(count() - 1, name, NameRole);
        setItemData(count() - 1, true, KnownRole);
        if (i < descriptions.size())
            setItemData(count() - 1, QString::fromStdString(descriptions[i]), Qt::ToolTipRole);
    }
}

void RegistryComboBox::setCurrentName(const std::string &name)
{
    const QString n = QString::fromStdString(name);
    int index = findData(n, NameRole);
    if (index < 0) {
        QSignalBlocker block(this);
        addItem(tr("%1 (unknown)").arg(n.isEmpty() ? tr("<none>") : n));
        index = count() - 1;
        setItemData(index, n, NameRole);
        setItemData(index, false, KnownRole);
        setItemData(index, QColor(Qt::red), Qt::ForegroundRole);
        setItemData(index, tr("Not a registered name; choose another entry."), Qt::ToolTipRole);
    }
    setCurrentIndex(index);
}

std::string RegistryComboBox::currentName() const
{
    return currentData(NameRole).toString().toStdString();
}

bool RegistryComboBox::isCurrentKnown() const
{
    return currentData(KnownRole).toBool();
}

} // namespace kd::ui
