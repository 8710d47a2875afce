#include "FilePathEdit.h"

#include <QFileDialog>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QToolButton>

namespace kd::ui {

FilePathEdit::FilePathEdit(Mode mode, QWidget *parent)
    : QWidget(parent), m_mode(mode), m_edit(new QLineEdit(this))
{
    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    m_edit->setClearButtonEnabled(true);
    auto *button = new QToolButton(this);
    button->setText(QStringLiteral("…"));
    button->setToolTip(mode == Mode::Directory ? tr("Choose a folder") : tr("Choose a file"));
    layout->addWidget(m_edit, 1);
    layout->addWidget(button);
    setFocusProxy(m_edit);
    connect(button, &QToolButton::clicked, this, &FilePathEdit::browse);
    connect(m_edit, &QLineEdit::textChanged, this, &FilePathEdit::pathChanged);
}

QString FilePathEdit::path() const
{
    return m_edit->text().trimmed();
}

void FilePathEdit::setPath(const QString &path)
{
    m_edit->setText(path);
}

void FilePathEdit::setPlaceholderText(const QString &text)
{
    m_edit->setPlaceholderText(text);
}

void FilePathEdit::browse()
{
    const QString start = path().isEmpty() ? m_edit->placeholderText() : path();
    const QString chosen = m_mode == Mode::Directory
                               ? QFileDialog::getExistingDirectory(this, toolTip(), start)
                               : QFileDialog::getOpenFileName(this, toolTip(), start, m_filter);
    if (!chosen.isEmpty())
        setPath(chosen);
}

} // namespace kd::ui
