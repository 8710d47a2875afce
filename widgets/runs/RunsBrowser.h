#pragma once

#include "runs/RunSeries.h"

#include <QStringList>
#include <QThread>
#include <QTimer>
#include <QWidget>

#include <vector>

class QCheckBox;
class QFileSystemWatcher;
class QLabel;
class QLineEdit;
class QTabWidget;
class QTableView;

namespace kd::ui {

class ConfigDiffView;
class RunsFilterProxy;
class RunsScanner;
class RunsTableModel;

/// A selected seed group (a row of the grouped table with two or more runs): the comparison
/// chart draws its members as one mean curve with a band.
struct SelectedGroup {
    QString id;        ///< stable while the group exists: "group:" + its first member's directory
    QString label;     ///< the row's name, e.g. "fashion-mnist-quick · kd T=4 ×3"
    QStringList dirs;  ///< member run directories
    bool operator==(const SelectedGroup &o) const { return id == o.id && label == o.label && dirs == o.dirs; }
};

/// The runs browser (the content of the main window's Runs dock): every run directory under
/// the watched folders and any run opened on its own, in a sortable, filterable table; seed
/// groups with mean ± sd and a comparison panel that says whether a difference is real; the
/// config diff of the selected runs; CSV export.
///
/// It stays current without a restart: a QFileSystemWatcher on the folders and on each live
/// run's files, plus a low-rate poll for file systems where watching misses changes. All
/// reading is done by a RunsScanner on a worker thread; only kd::RunInfo and RunSeries values
/// come back. Selecting runs emits runsSelected() and, for each selected run, its series
/// (and again whenever a live run's metrics.csv grows).
class RunsBrowser : public QWidget {
    Q_OBJECT

public:
    explicit RunsBrowser(QWidget *parent = nullptr);
    ~RunsBrowser() override;

    /// Watches `folder` (and its run directories up to 3 levels down). `remember`: keep it in
    /// the settings, so it is watched again next time.
    void addFolder(const QString &folder, bool remember = false);
    QStringList folders() const { return m_folders; }
    /// Lists one run directory (even outside the folders); false when it is not a directory.
    bool openRun(const QString &dir);
    /// The run being trained now: listed, and kept selected while set. Empty: none.
    void setCurrentRun(const QString &dir);
    QString currentRun() const { return m_currentRun; }

    void setGrouped(bool grouped);
    bool isGrouped() const;
    void setFilterText(const QString &text);
    void setColumnVisible(int column, bool visible);
    bool isColumnVisible(int column) const;
    /// Selects the rows holding these run directories (replacing the selection).
    void selectDirs(const QStringList &dirs);
    /// Run directories of the selected rows (every member of a selected group).
    QStringList selectedDirs() const { return m_selectedDirs; }
    /// The one selected run when it can be resumed (stopped, failed or interrupted, with
    /// checkpoints), else empty.
    QString resumableSelection() const;
    /// The selected seed groups (grouped view only; empty otherwise). Their members are also
    /// in selectedDirs(); runsSelected() is emitted again when only the grouping changes.
    QVector<SelectedGroup> selectedGroups() const { return m_selectedGroups; }

    /// The table as shown (visible rows in their order, visible columns) to CSV.
    bool exportCsv(const QString &path, QString *error = nullptr) const;
    /// Ms between the low-rate rescans (default 3000) and series polls (default 1000).
    void setPollIntervals(int scanMs, int seriesMs);

    QTableView *table() const { return m_table; }
    RunsTableModel *model() const { return m_model; }
    RunsFilterProxy *proxy() const { return m_proxy; }
    ConfigDiffView *configDiff() const { return m_diff; }
    QTabWidget *tabs() const { return m_tabs; }
    /// The comparison panel's text (plain).
    QString comparisonText() const;

public Q_SLOTS:
    /// Reads the folders again now (off the GUI thread).
    void refresh();
    void addFolderWithDialog();
    void exportCsvWithDialog();

Q_SIGNALS:
    /// The user asked to resume `runDir` (the row menu's Resume).
    void resumeRequested(const QString &runDir);
    /// The selected runs changed (their directories; the current run is always among them).
    void runsSelected(const QStringList &dirs);
    /// Every series of one selected run; sent when it is selected and whenever it grows.
    void seriesUpdated(const QString &runDir, const QVector<kd::ui::RunSeries> &series);
    /// A scan's result is in the table (tests wait on this).
    void runsUpdated(int runCount);

private:
    void buildUi();
    void requestScan();
    void applyScan(const std::vector<kd::RunInfo> &runs);
    void updateWatches();
    void selectionChanged();
    void updatePanels();
    void updateComparison();
    void updateStatus();
    void showHeaderMenu(const QPoint &pos);
    void showRowMenu(const QPoint &pos);
    void applyColumnVisibility();
    void saveColumnVisibility() const;
    QList<int> selectedSourceRows() const;
    void ensureCurrentRunSelected();

    RunsTableModel *m_model;
    RunsFilterProxy *m_proxy;
    QTableView *m_table = nullptr;
    QLineEdit *m_filter = nullptr;
    QCheckBox *m_groupToggle = nullptr;
    QLabel *m_status = nullptr;
    QLabel *m_comparison = nullptr;
    ConfigDiffView *m_diff = nullptr;
    QTabWidget *m_tabs = nullptr;

    QThread m_thread;
    RunsScanner *m_scanner; // lives on m_thread
    QFileSystemWatcher *m_watcher;
    QTimer m_debounce;
    QTimer m_liveScan;
    QTimer m_poll;
    bool m_scanInFlight = false;
    bool m_scanPending = false;
    bool m_modelChanged = false;

    QStringList m_folders;
    QStringList m_runDirs; // opened one by one
    QString m_currentRun;
    QStringList m_selectedDirs;
    QVector<SelectedGroup> m_selectedGroups;
    QStringList m_hiddenColumns; // column keys the user hid
    int m_seriesPollMs = 1000;
};

} // namespace kd::ui
