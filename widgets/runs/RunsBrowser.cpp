#include "runs/RunsBrowser.h"

#include "runs/ConfigDiffView.h"
#include "runs/RunsFilterProxy.h"
#include "runs/RunsFormat.h"
#include "runs/RunsScanner.h"
#include "runs/RunsTableModel.h"

#include <QApplication>
#include <QRegularExpression>
#include <QCheckBox>
#include <QClipboard>
#include <QDesktopServices>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFileSystemWatcher>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QSaveFile>
#include <QSet>
#include <QSettings>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QTextStream>
#include <QToolButton>
#include <QUrl>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace kd::ui {

namespace {

/// At most one table rescan per this many ms while live runs only append metrics.
constexpr int LiveScanMs = 2000;

const QString HiddenColumnsKey = QStringLiteral("runsBrowser/hiddenColumns");
const QString FoldersKey = QStringLiteral("runsBrowser/folders");

QString csvField(QString text)
{
    if (text.contains(QLatin1Char(',')) || text.contains(QLatin1Char('"')) || text.contains(QLatin1Char('\n'))) {
        text.replace(QLatin1String("\""), QLatin1String("\"\""));
        return QLatin1Char('"') + text + QLatin1Char('"');
    }
    return text;
}

QString html(const QString &s)
{
    return s.toHtmlEscaped();
}

} // namespace

RunsBrowser::RunsBrowser(QWidget *parent)
    : QWidget(parent)
    , m_model(new RunsTableModel(this))
    , m_proxy(new RunsFilterProxy(this))
    , m_scanner(new RunsScanner)
    , m_watcher(new QFileSystemWatcher(this))
{
    setObjectName(QStringLiteral("RunsBrowser"));
    qRegisterMetaType<std::vector<kd::RunInfo>>();
    qRegisterMetaType<QVector<kd::ui::RunSeries>>();
    m_proxy->setSourceModel(m_model);

    QSettings settings;
    m_hiddenColumns = settings.value(HiddenColumnsKey, QStringList{RunsTableModel::columnKey(RunsTableModel::Dir)})
                          .toStringList();
    buildUi();

    m_scanner->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_scanner, &QObject::deleteLater);
    m_thread.setObjectName(QStringLiteral("kd-runs-reader"));
    m_thread.start(QThread::LowPriority);
    connect(m_scanner, &RunsScanner::scanned, this, &RunsBrowser::applyScan);
    connect(m_scanner, &RunsScanner::seriesUpdated, this, [this](const QString &dir, const QVector<RunSeries> &series) {
        if (m_selectedDirs.contains(dir)) // a late report for a run just deselected is dropped
            Q_EMIT seriesUpdated(dir, series);
    });
    QMetaObject::invokeMethod(m_scanner, [s = m_scanner, ms = m_seriesPollMs] { s->startPolling(ms); }, Qt::QueuedConnection);

    // Watchers fire in bursts (a run writes several files per epoch): coalesce into one scan.
    m_debounce.setSingleShot(true);
    m_debounce.setInterval(250);
    connect(&m_debounce, &QTimer::timeout, this, &RunsBrowser::requestScan);
    connect(m_watcher, &QFileSystemWatcher::directoryChanged, this, [this] { m_debounce.start(); });
    // A live run appends to metrics.csv many times a second: its curves are polled at once,
    // but the table (every run re-read) at most every LiveScanMs, so a busy run never keeps
    // the GUI thread rebuilding rows (measured by bench_charts' real-session phase).
    m_liveScan.setSingleShot(true);
    m_liveScan.setInterval(LiveScanMs);
    connect(&m_liveScan, &QTimer::timeout, this, &RunsBrowser::requestScan);
    connect(m_watcher, &QFileSystemWatcher::fileChanged, this, [this](const QString &path) {
        if (!path.endsWith(QLatin1String("metrics.csv"))) {
            m_debounce.start();
            return;
        }
        if (!m_liveScan.isActive())
            m_liveScan.start();
        QMetaObject::invokeMethod(m_scanner, [s = m_scanner] { s->pollSeries(); }, Qt::QueuedConnection);
    });
    // Some file systems (network mounts, some containers) never report changes: poll too.
    m_poll.setInterval(3000);
    connect(&m_poll, &QTimer::timeout, this, &RunsBrowser::requestScan);
    m_poll.start();

    for (const QString &folder : settings.value(FoldersKey).toStringList())
        addFolder(folder);
}

RunsBrowser::~RunsBrowser()
{
    m_thread.quit();
    m_thread.wait();
}

void RunsBrowser::buildUi()
{
    m_filter = new QLineEdit;
    m_filter->setObjectName(QStringLiteral("RunsFilter"));
    m_filter->setPlaceholderText(tr("Filter runs: words, or method:kd seed:3 status:completed student_acc>85"));
    m_filter->setToolTip(RunsFilterProxy::syntaxHelp());
    m_filter->setClearButtonEnabled(true);
    connect(m_filter, &QLineEdit::textChanged, this, [this](const QString &text) {
        m_proxy->setFilterQuery(text);
        updateStatus();
    });

    m_groupToggle = new QCheckBox(tr("Seed groups"));
    m_groupToggle->setObjectName(QStringLiteral("SeedGroupToggle"));
    m_groupToggle->setToolTip(tr("One row per setting: runs whose configs differ only in seed, with n and mean ± sd "
                                 "of each result; select one group to test its KD gain, two to compare them"));
    connect(m_groupToggle, &QCheckBox::toggled, this, &RunsBrowser::setGrouped);

    auto *addFolderButton = new QToolButton;
    addFolderButton->setText(tr("Add folder…"));
    addFolderButton->setToolTip(tr("Watch another folder of run directories"));
    connect(addFolderButton, &QToolButton::clicked, this, &RunsBrowser::addFolderWithDialog);
    auto *exportButton = new QToolButton;
    exportButton->setText(tr("Export CSV…"));
    exportButton->setToolTip(tr("Save the table as shown (visible rows and columns) as CSV"));
    connect(exportButton, &QToolButton::clicked, this, &RunsBrowser::exportCsvWithDialog);

    auto *bar = new QHBoxLayout;
    bar->setContentsMargins(0, 0, 0, 0);
    bar->addWidget(m_filter, 1);
    bar->addWidget(m_groupToggle);
    bar->addWidget(addFolderButton);
    bar->addWidget(exportButton);

    m_table = new QTableView;
    m_table->setObjectName(QStringLiteral("RunsTable"));
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(RunsTableModel::Date, Qt::DescendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->horizontalHeader()->setSectionsMovable(true);
    m_table->horizontalHeader()->setHighlightSections(false);
    m_table->horizontalHeader()->setContextMenuPolicy(Qt::CustomContextMenu);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    m_table->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_table->horizontalHeader(), &QWidget::customContextMenuRequested, this, &RunsBrowser::showHeaderMenu);
    connect(m_table, &QWidget::customContextMenuRequested, this, &RunsBrowser::showRowMenu);
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, &RunsBrowser::selectionChanged);
    connect(m_model, &QAbstractItemModel::modelReset, this, &RunsBrowser::selectionChanged);
    // Panels are rebuilt only when a scan changed something (not every poll: it would
    // reset the config diff's scrolling every few seconds).
    auto changed = [this] { m_modelChanged = true; };
    connect(m_model, &QAbstractItemModel::dataChanged, this, changed);
    connect(m_model, &QAbstractItemModel::rowsInserted, this, changed);
    connect(m_model, &QAbstractItemModel::rowsRemoved, this, changed);
    applyColumnVisibility();

    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("RunsStatus"));
    m_status->setWordWrap(true);

    m_comparison = new QLabel;
    m_comparison->setObjectName(QStringLiteral("RunsComparison"));
    m_comparison->setWordWrap(true);
    m_comparison->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_comparison->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_comparison->setMargin(6);
    m_diff = new ConfigDiffView;
    m_tabs = new QTabWidget;
    m_tabs->addTab(m_comparison, tr("Compare"));
    m_tabs->addTab(m_diff, tr("Config diff"));

    auto *top = new QWidget;
    auto *topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    topLayout->addLayout(bar);
    topLayout->addWidget(m_table, 1);
    topLayout->addWidget(m_status);

    auto *split = new QSplitter(Qt::Vertical);
    split->addWidget(top);
    split->addWidget(m_tabs);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 1);
    split->setChildrenCollapsible(false);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(split);
    updatePanels();
    updateStatus();
}

void RunsBrowser::addFolder(const QString &folder, bool remember)
{
    const QString path = QDir::cleanPath(QFileInfo(folder).absoluteFilePath());
    if (!m_folders.contains(path))
        m_folders << path;
    if (remember) {
        QSettings settings;
        QStringList saved = settings.value(FoldersKey).toStringList();
        if (!saved.contains(path)) {
            saved << path;
            settings.setValue(FoldersKey, saved);
        }
    }
    requestScan();
}

bool RunsBrowser::openRun(const QString &dir)
{
    const QFileInfo info(dir);
    if (!info.isDir())
        return false;
    const QString path = QDir::cleanPath(info.absoluteFilePath());
    if (!m_runDirs.contains(path))
        m_runDirs << path;
    requestScan();
    return true;
}

void RunsBrowser::setCurrentRun(const QString &dir)
{
    m_currentRun = dir.isEmpty() ? QString() : QDir::cleanPath(QFileInfo(dir).absoluteFilePath());
    if (!m_currentRun.isEmpty() && !m_runDirs.contains(m_currentRun))
        m_runDirs << m_currentRun; // listed even when it is written outside every watched folder
    requestScan();
}

void RunsBrowser::refresh()
{
    requestScan();
}

void RunsBrowser::setPollIntervals(int scanMs, int seriesMs)
{
    m_poll.setInterval(scanMs);
    m_seriesPollMs = seriesMs;
    QMetaObject::invokeMethod(m_scanner, [s = m_scanner, seriesMs] { s->startPolling(seriesMs); }, Qt::QueuedConnection);
}

void RunsBrowser::requestScan()
{
    if (m_scanInFlight) {
        m_scanPending = true; // one more scan once this one is in; never a queue of them
        return;
    }
    m_scanInFlight = true;
    m_scanPending = false;
    m_poll.start(); // the low-rate poll only fills the gaps between other scans
    QMetaObject::invokeMethod(
        m_scanner, [s = m_scanner, folders = m_folders, dirs = m_runDirs] { s->scan(folders, dirs); }, Qt::QueuedConnection);
}

void RunsBrowser::applyScan(const std::vector<kd::RunInfo> &runs)
{
    m_scanInFlight = false;
    m_modelChanged = false;
    m_model->setRuns(runs);
    updateWatches();
    ensureCurrentRunSelected();
    if (m_modelChanged)
        selectionChanged(); // members and results of selected rows may have changed
    updateStatus();
    Q_EMIT runsUpdated(int(runs.size()));
    if (m_scanPending)
        requestScan();
}

void RunsBrowser::updateWatches()
{
    QSet<QString> dirs, files;
    for (const QString &folder : m_folders)
        if (QFileInfo(folder).isDir())
            dirs.insert(folder);
    for (const auto &run : m_model->runs()) {
        const QString dir = QString::fromStdString(run.dir);
        const QString parent = QFileInfo(dir).absolutePath();
        if (QFileInfo(parent).isDir())
            dirs.insert(parent); // a run removed or added next to it shows as a change here
        if (run.state == kd::RunState::Running || run.state == kd::RunState::Interrupted) {
            dirs.insert(dir); // summary.json is replaced atomically: a directory change
            const QString metrics = QDir(dir).filePath(QStringLiteral("metrics.csv"));
            if (QFileInfo::exists(metrics))
                files.insert(metrics);
        }
    }
    const QStringList dirList = m_watcher->directories(), fileList = m_watcher->files();
    const QSet<QString> watchedDirs(dirList.begin(), dirList.end());
    const QSet<QString> watchedFiles(fileList.begin(), fileList.end());
    QStringList remove, add;
    for (const QString &p : watchedDirs)
        if (!dirs.contains(p))
            remove << p;
    for (const QString &p : watchedFiles)
        if (!files.contains(p))
            remove << p;
    for (const QString &p : dirs)
        if (!watchedDirs.contains(p))
            add << p;
    for (const QString &p : files)
        if (!watchedFiles.contains(p))
            add << p;
    if (!remove.isEmpty())
        m_watcher->removePaths(remove);
    if (!add.isEmpty())
        m_watcher->addPaths(add);
}

QList<int> RunsBrowser::selectedSourceRows() const
{
    QList<int> rows;
    for (const QModelIndex &index : m_table->selectionModel()->selectedRows())
        rows << m_proxy->mapToSource(index).row();
    // In the table's order, so "A − B" reads top minus bottom.
    std::sort(rows.begin(), rows.end(), [this](int a, int b) {
        return m_proxy->mapFromSource(m_model->index(a, 0)).row() < m_proxy->mapFromSource(m_model->index(b, 0)).row();
    });
    return rows;
}

void RunsBrowser::ensureCurrentRunSelected()
{
    if (m_currentRun.isEmpty())
        return;
    const int row = m_model->rowForDir(m_currentRun);
    if (row < 0)
        return;
    const QModelIndex index = m_proxy->mapFromSource(m_model->index(row, 0));
    if (!index.isValid() || m_table->selectionModel()->isRowSelected(index.row(), {}))
        return;
    m_table->selectionModel()->select(index, QItemSelectionModel::Select | QItemSelectionModel::Rows);
}

void RunsBrowser::selectDirs(const QStringList &dirs)
{
    QItemSelection selection;
    for (const QString &dir : dirs) {
        const int row = m_model->rowForDir(dir);
        const QModelIndex index = row < 0 ? QModelIndex() : m_proxy->mapFromSource(m_model->index(row, 0));
        if (index.isValid())
            selection.select(index, index);
    }
    m_table->selectionModel()->select(selection, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
}

void RunsBrowser::selectionChanged()
{
    ensureCurrentRunSelected();
    QStringList dirs;
    QVector<SelectedGroup> groups;
    for (int row : selectedSourceRows()) {
        const QStringList members = m_model->dirsAt(row);
        dirs << members;
        if (m_model->isGrouped() && m_model->groupAt(row) && members.size() >= 2)
            groups.push_back({QStringLiteral("group:") + members.front(),
                              m_model->index(row, RunsTableModel::Name).data().toString(), members});
    }
    if (!m_currentRun.isEmpty() && !dirs.contains(m_currentRun)) {
        if (const kd::RunInfo *run = m_model->runForDir(m_currentRun))
            dirs.prepend(QString::fromStdString(run->dir));
    }
    dirs.removeDuplicates();
    updatePanels();
    if (dirs == m_selectedDirs && groups == m_selectedGroups)
        return;
    const bool dirsChanged = dirs != m_selectedDirs;
    m_selectedDirs = dirs;
    m_selectedGroups = groups;
    if (!dirsChanged) {
        Q_EMIT runsSelected(dirs);
        return;
    }
    QMetaObject::invokeMethod(m_scanner, [s = m_scanner, dirs] { s->follow(dirs); }, Qt::QueuedConnection);
    Q_EMIT runsSelected(dirs);
}

void RunsBrowser::updatePanels()
{
    QStringList names;
    std::vector<nlohmann::json> configs;
    for (int row : selectedSourceRows()) {
        const auto members = m_model->membersAt(row);
        if (members.empty())
            continue;
        names << m_model->index(row, RunsTableModel::Name).data().toString();
        configs.push_back(m_model->runs()[members.front()].config);
    }
    m_diff->setConfigs(names, configs);
    updateComparison();
}

void RunsBrowser::updateComparison()
{
    const QList<int> rows = selectedSourceRows();
    const auto &runs = m_model->runs();
    auto name = [this](int row) { return html(m_model->index(row, RunsTableModel::Name).data().toString()); };
    QString text;
    if (!m_model->isGrouped()) {
        text = tr("Turn on <b>Seed groups</b> to collapse runs that differ only in seed into one row with n and "
                  "mean ± sd, and to see whether a difference is larger than the seed-to-seed noise.");
    } else if (rows.size() == 1 && m_model->groupAt(rows.front())) {
        const kd::SeedGroup *g = m_model->groupAt(rows.front());
        text = tr("<b>%1</b>: KD gain, distilled student − scratch student (n = %2 seeds):<br><b>%3</b><br>"
                  "<small>Welch's t-test, 95 % confidence interval, accuracies in percentage points. "
                  "Select a second group to compare the two.</small>")
                   .arg(name(rows.front()))
                   .arg(g->members.size())
                   .arg(html(formatWelch(g->studentVsScratch, g->studentAcc.n, g->scratchAcc.n)));
    } else if (rows.size() == 2 && m_model->groupAt(rows[0]) && m_model->groupAt(rows[1])) {
        const kd::SeedGroup *a = m_model->groupAt(rows[0]);
        const kd::SeedGroup *b = m_model->groupAt(rows[1]);
        const kd::WelchResult r = kd::compareGroups(*a, *b, runs);
        text = tr("Student test accuracy, <b>%1</b> − <b>%2</b>:<br><b>%3</b><br>"
                  "<small>Welch's t-test over seeds (n = %4 vs %5), 95 % confidence interval, percentage points.</small>")
                   .arg(name(rows[0]), name(rows[1]))
                   .arg(html(formatWelch(r, a->studentAcc.n, b->studentAcc.n)))
                   .arg(a->studentAcc.n)
                   .arg(b->studentAcc.n);
        for (int row : rows) {
            const kd::SeedGroup *g = m_model->groupAt(row);
            text += tr("<br>KD gain of %1: %2").arg(name(row), html(formatWelch(g->studentVsScratch, g->studentAcc.n, g->scratchAcc.n)));
        }
    } else {
        text = tr("Select one seed group to test its KD gain (student vs scratch), or two groups to compare "
                  "their students.");
    }
    m_comparison->setText(text);
}

QString RunsBrowser::comparisonText() const
{
    QString text = m_comparison->text();
    text.replace(QLatin1String("<br>"), QLatin1String("\n"));
    text.remove(QRegularExpression(QStringLiteral("<[^>]*>")));
    text.replace(QLatin1String("&lt;"), QLatin1String("<")).replace(QLatin1String("&gt;"), QLatin1String(">"));
    text.replace(QLatin1String("&quot;"), QLatin1String("\"")).replace(QLatin1String("&#39;"), QLatin1String("'"));
    return text.replace(QLatin1String("&amp;"), QLatin1String("&"));
}

void RunsBrowser::updateStatus()
{
    const int total = m_model->rowCount();
    const int shown = m_proxy->rowCount();
    QString text = m_model->isGrouped() ? tr("%1 of %2 groups (%3 runs)").arg(shown).arg(total).arg(m_model->runs().size())
                                        : tr("%1 of %2 runs").arg(shown).arg(total);
    QStringList folders;
    for (const QString &f : m_folders)
        folders << QDir::toNativeSeparators(f);
    if (!folders.isEmpty())
        text += tr(" · watching %1").arg(folders.join(QStringLiteral(", ")));
    if (!m_proxy->queryProblem().isEmpty())
        text += QStringLiteral(" · ") + m_proxy->queryProblem();
    m_status->setText(text);
}

void RunsBrowser::setGrouped(bool grouped)
{
    if (m_groupToggle->isChecked() != grouped)
        m_groupToggle->setChecked(grouped); // comes back here through toggled()
    if (m_model->isGrouped() == grouped)
        return;
    const QStringList keep = m_selectedDirs;
    m_model->setGrouped(grouped);
    applyColumnVisibility();
    selectDirs(keep); // the rows are new; select those holding the runs selected before
    updatePanels();
    updateStatus();
}

bool RunsBrowser::isGrouped() const
{
    return m_model->isGrouped();
}

void RunsBrowser::setFilterText(const QString &text)
{
    m_filter->setText(text);
}

void RunsBrowser::applyColumnVisibility()
{
    for (int c = 0; c < RunsTableModel::ColumnCount; ++c) {
        bool visible = !m_hiddenColumns.contains(RunsTableModel::columnKey(c));
        if (c == RunsTableModel::Runs && !m_model->isGrouped())
            visible = false; // n is 1 for every single run
        m_table->horizontalHeader()->setSectionHidden(c, !visible);
    }
}

void RunsBrowser::setColumnVisible(int column, bool visible)
{
    const QString key = RunsTableModel::columnKey(column);
    if (key.isEmpty())
        return;
    m_hiddenColumns.removeAll(key);
    if (!visible)
        m_hiddenColumns << key;
    applyColumnVisibility();
    saveColumnVisibility();
}

bool RunsBrowser::isColumnVisible(int column) const
{
    return !m_table->horizontalHeader()->isSectionHidden(column);
}

void RunsBrowser::saveColumnVisibility() const
{
    QSettings().setValue(HiddenColumnsKey, m_hiddenColumns);
}

void RunsBrowser::showHeaderMenu(const QPoint &pos)
{
    QMenu menu(this);
    for (int c = 0; c < RunsTableModel::ColumnCount; ++c) {
        QAction *action = menu.addAction(m_model->headerData(c, Qt::Horizontal).toString());
        action->setCheckable(true);
        action->setChecked(!m_hiddenColumns.contains(RunsTableModel::columnKey(c)));
        action->setToolTip(m_model->headerData(c, Qt::Horizontal, Qt::ToolTipRole).toString());
        connect(action, &QAction::toggled, this, [this, c](bool on) { setColumnVisible(c, on); });
    }
    menu.addSeparator();
    menu.addAction(tr("Show all columns"), this, [this] {
        m_hiddenColumns.clear();
        applyColumnVisibility();
        saveColumnVisibility();
    });
    menu.setToolTipsVisible(true);
    menu.exec(m_table->horizontalHeader()->mapToGlobal(pos));
}

QString RunsBrowser::resumableSelection() const
{
    if (m_selectedDirs.size() != 1)
        return {};
    const kd::RunInfo *run = m_model->runForDir(m_selectedDirs.front());
    return run && run->resumable ? m_selectedDirs.front() : QString();
}

void RunsBrowser::showRowMenu(const QPoint &pos)
{
    const QModelIndex index = m_table->indexAt(pos);
    if (!index.isValid())
        return;
    const QStringList dirs = m_model->dirsAt(m_proxy->mapToSource(index).row());
    if (dirs.isEmpty())
        return;
    QMenu menu(this);
    if (dirs.size() == 1) {
        const kd::RunInfo *run = m_model->runForDir(dirs.front());
        QAction *resume = menu.addAction(tr("Resume"), this, [this, dir = dirs.front()] { Q_EMIT resumeRequested(dir); });
        resume->setEnabled(run && run->resumable);
        resume->setToolTip(run && run->resumable ? tr("Continue this run from its newest checkpoint")
                                                 : tr("Only a stopped, failed or interrupted run with checkpoints resumes"));
        menu.addSeparator();
    }
    menu.addAction(tr("Open Folder"), this, [dirs] { QDesktopServices::openUrl(QUrl::fromLocalFile(dirs.front())); });
    menu.addAction(tr("Copy Path"), this, [dirs] { QApplication::clipboard()->setText(dirs.join(QLatin1Char('\n'))); });
    menu.exec(m_table->viewport()->mapToGlobal(pos));
}

bool RunsBrowser::exportCsv(const QString &path, QString *error) const
{
    QList<int> columns;
    const QHeaderView *header = m_table->horizontalHeader();
    for (int visual = 0; visual < header->count(); ++visual) {
        const int logical = header->logicalIndex(visual);
        if (!header->isSectionHidden(logical))
            columns << logical;
    }
    QString text;
    QTextStream out(&text);
    QStringList cells;
    for (int c : columns)
        cells << csvField(m_proxy->headerData(c, Qt::Horizontal).toString());
    out << cells.join(QLatin1Char(',')) << '\n';
    for (int r = 0; r < m_proxy->rowCount(); ++r) {
        cells.clear();
        for (int c : columns)
            cells << csvField(m_proxy->index(r, c).data(RunsTableModel::ExportRole).toString());
        out << cells.join(QLatin1Char(',')) << '\n';
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text) || file.write(text.toUtf8()) < 0 || !file.commit()) {
        if (error)
            *error = tr("cannot write %1: %2; choose another file").arg(QDir::toNativeSeparators(path), file.errorString());
        return false;
    }
    return true;
}

void RunsBrowser::addFolderWithDialog()
{
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Add Runs Folder"), m_folders.value(0));
    if (!dir.isEmpty())
        addFolder(dir, true);
}

void RunsBrowser::exportCsvWithDialog()
{
    const QString path = QFileDialog::getSaveFileName(this, tr("Export Runs Table"), QStringLiteral("runs.csv"),
                                                      tr("CSV files (*.csv)"));
    if (path.isEmpty())
        return;
    QString error;
    if (!exportCsv(path, &error))
        m_status->setText(error);
    else
        m_status->setText(tr("Saved %1").arg(QDir::toNativeSeparators(path)));
}

} // namespace kd::ui
