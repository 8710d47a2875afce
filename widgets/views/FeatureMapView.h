#pragma once

#include <runs/AnalysisReader.h>

#include <QPixmap>
#include <QScrollArea>
#include <QString>
#include <QVector>

class QGridLayout;
class QLabel;

namespace kd::ui {

/// The teacher's and the student's feature-map grids side by side, one row per stage (the
/// engine's PNGs: per probe image the input, the attention map and the strongest channels),
/// scaled to the same height so their rows line up, each within half of the view's width.
class FeatureMapView : public QScrollArea {
    Q_OBJECT

public:
    explicit FeatureMapView(QWidget *parent = nullptr);
    void setMaps(const QString &teacherRole, const std::vector<kd::FeatureMapImage> &teacher,
                 const QString &studentRole, const std::vector<kd::FeatureMapImage> &student);

    int stageCount() const { return m_rows.size(); }
    QString stageName(int row) const;
    /// The image loaded for a row (null when its PNG is missing or the model has no such stage).
    QPixmap teacherPixmap(int row) const;
    QPixmap studentPixmap(int row) const;

protected:
    void resizeEvent(QResizeEvent *event) override;

private:
    struct Row {
        QString stage;
        QPixmap teacher, student;
        QLabel *teacherLabel = nullptr, *studentLabel = nullptr;
    };
    void rescale();

    QWidget *m_content = nullptr;
    QGridLayout *m_grid = nullptr;
    QLabel *m_teacherHeader = nullptr, *m_studentHeader = nullptr, *m_empty = nullptr;
    QVector<Row> m_rows;
    QVector<QWidget *> m_rowWidgets;
};

} // namespace kd::ui
