#include "runs/ConfigDiffView.h"

#include <runs/RunGroups.h>

#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

namespace kd::ui {

ConfigDiffView::ConfigDiffView(QWidget *parent)
    : QWidget(parent), m_message(new QLabel), m_table(new QTableWidget)
{
    setObjectName(QStringLiteral("ConfigDiffView"));
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_message->setWordWrap(true);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setAlternatingRowColors(true);
    m_table->setSelectionMode(QAbstractItemView::ContiguousSelection);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    layout->addWidget(m_message);
    layout->addWidget(m_table, 1);
    setConfigs({}, {});
}

void ConfigDiffView::setConfigs(const QStringList &names, const std::vector<nlohmann::json> &configs)
{
    m_table->clear();
    m_table->setRowCount(0);
    m_table->setColumnCount(0);
    if (configs.size() < 2) {
        m_message->setText(tr("Select two or more runs to see the config keys in which they differ."));
        m_table->hide();
        return;
    }
    const auto rows = kd::diffConfigs(configs);
    int unreadable = 0;
    for (const auto &c : configs)
        unreadable += c.is_object() ? 0 : 1;
    if (rows.empty()) {
        m_message->setText(tr("The %1 selected runs have the same configuration (name and output folder aside).")
                               .arg(configs.size()));
        m_table->hide();
        return;
    }
    QString text = tr("%n key(s) differ between the %1 selected runs; every other key is the same.", nullptr, int(rows.size()))
                       .arg(configs.size());
    if (unreadable)
        text += tr(" %n run(s) have no readable config.json.", nullptr, unreadable);
    m_message->setText(text);
    m_table->show();
    m_table->setColumnCount(int(configs.size()));
    m_table->setRowCount(int(rows.size()));
    m_table->setHorizontalHeaderLabels(names);
    QStringList keys;
    for (std::size_t r = 0; r < rows.size(); ++r) {
        keys << QString::fromStdString(rows[r].key);
        for (std::size_t c = 0; c < rows[r].values.size() && c < configs.size(); ++c) {
            const QString value = QString::fromStdString(rows[r].values[c]);
            auto *item = new QTableWidgetItem(value.isEmpty() ? tr("(absent)") : value);
            if (value.isEmpty())
                item->setForeground(palette().color(QPalette::Disabled, QPalette::Text));
            item->setData(Qt::UserRole, value);
            item->setToolTip(QStringLiteral("%1 = %2").arg(keys.back(), value.isEmpty() ? tr("(absent)") : value));
            m_table->setItem(int(r), int(c), item);
        }
    }
    m_table->setVerticalHeaderLabels(keys);
}

QStringList ConfigDiffView::keys() const
{
    QStringList out;
    for (int r = 0; r < m_table->rowCount(); ++r)
        if (auto *item = m_table->verticalHeaderItem(r))
            out << item->text();
    return out;
}

QString ConfigDiffView::value(const QString &key, int column) const
{
    for (int r = 0; r < m_table->rowCount(); ++r)
        if (auto *h = m_table->verticalHeaderItem(r); h && h->text() == key)
            if (auto *item = m_table->item(r, column))
                return item->data(Qt::UserRole).toString();
    return {};
}

QString ConfigDiffView::message() const
{
    return m_message->text();
}

} // namespace kd::ui
