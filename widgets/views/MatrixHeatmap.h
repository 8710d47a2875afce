#pragma once

#include "plots/QCustomPlotInclude.h"

#include <QString>
#include <QStringList>

#include <vector>

namespace kd::ui {

/// A matrix drawn as a colour map with each cell's value written on it: rows along the value
/// (vertical) axis from the top, columns along the key axis. Used by the CKA heatmap and the
/// confusion matrices; it draws what it is given and computes nothing.
class MatrixHeatmap : public QCustomPlot {
    Q_OBJECT

public:
    explicit MatrixHeatmap(QWidget *parent = nullptr);

    /// Shows `values` (rows × columns). `low`/`high` fix the colour scale; NaN for both scales
    /// it to the data. `decimals` of the annotations.
    void setMatrix(const std::vector<std::vector<double>> &values, const QStringList &rowNames,
                   const QStringList &columnNames, double low, double high, int decimals);
    void setTitle(const QString &title);
    void setAxisLabels(const QString &rows, const QString &columns);
    /// Shows `message` instead of a matrix (e.g. "no CKA in this epoch").
    void showMessage(const QString &message);

    int rowCount() const { return m_rows; }
    int columnCount() const { return m_columns; }
    /// The annotation text of a cell ("" outside the matrix), for tests.
    QString cellText(int row, int column) const;
    QString title() const;

private:
    QCPColorMap *m_map = nullptr;
    QCPColorScale *m_scale = nullptr;
    QCPTextElement *m_title = nullptr;
    QCPItemText *m_message = nullptr;
    std::vector<QCPItemText *> m_labels;
    QStringList m_texts;
    int m_rows = 0, m_columns = 0;
};

} // namespace kd::ui
