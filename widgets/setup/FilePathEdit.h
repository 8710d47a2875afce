#pragma once

#include <QWidget>

class QLineEdit;

namespace kd::ui {

/// A path field with a "…" button that opens a file or folder chooser.
class FilePathEdit : public QWidget {
    Q_OBJECT

public:
    enum class Mode { OpenFile, Directory };

    explicit FilePathEdit(Mode mode, QWidget *parent = nullptr);

    QString path() const;
    void setPath(const QString &path);
    void setPlaceholderText(const QString &text);
    /// Name filter for OpenFile mode, e.g. "Checkpoints (*.pt)".
    void setNameFilter(const QString &filter) { m_filter = filter; }
    QLineEdit *lineEdit() const { return m_edit; }

Q_SIGNALS:
    void pathChanged(const QString &path);

private:
    void browse();

    Mode m_mode;
    QString m_filter;
    QLineEdit *m_edit;
};

} // namespace kd::ui
