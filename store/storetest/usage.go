package storetest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// What benchmarks record besides time: CPU of a process and of the
// PostgreSQL backends serving a database, memory, and the database's
// deadlock count. Linux only (/proc); PostgreSQL must run on this machine
// for BackendCPU. Functions return an error where that does not hold, and
// benchmarks then leave the figure out rather than report a wrong one.

// clockTick is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// ProcessCPU returns the user plus system CPU time process pid has used
// (pid 0: this process).
func ProcessCPU(pid int) (time.Duration, error) {
	path := "/proc/self/stat"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after its
	// closing parenthesis are fixed: utime and stime are fields 14 and 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("%s: unexpected format", path)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%s: unexpected format", path)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%s: unexpected format", path)
	}
	return time.Duration(ut+st) * clockTick, nil
}

// Memory returns the resident set size of process pid (0: this process)
// and its peak since start or since ResetPeak, in MiB.
func Memory(pid int) (rss, peak float64, err error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak, nil
}

// ResetPeak makes this process's peak RSS start again from its current
// RSS.
func ResetPeak() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) } //nolint:errcheck

// Querier is what BackendCPU and Deadlocks need of a pool (store's DB()).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// BackendCPU returns the CPU time used so far by the PostgreSQL backends
// now connected to q's database. Take the difference of two readings over
// a period in which the pool keeps its connections: a backend that exits
// takes its count with it.
func BackendCPU(ctx context.Context, q Querier) (time.Duration, error) {
	rows, err := q.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return 0, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, pid := range pids {
		cpu, err := ProcessCPU(int(pid))
		if err != nil {
			return 0, fmt.Errorf("backend %d: %w (is PostgreSQL on this machine?)", pid, err)
		}
		total += cpu
	}
	return total, nil
}

// Deadlocks returns pg_stat_database.deadlocks of pool's database. A
// backend reports its counts when a transaction ends at least a second
// after its last report (or after 10 s idle), so this waits a second and
// runs a statement on each idle connection of q (when q is a pool) first;
// backends of other pools may report theirs late.
func Deadlocks(ctx context.Context, q Querier) (int64, error) {
	time.Sleep(1100 * time.Millisecond)
	if pool, ok := q.(*pgxpool.Pool); ok {
		for _, c := range pool.AcquireAllIdle(ctx) {
			c.Exec(ctx, `SELECT 1`) //nolint:errcheck
			c.Release()
		}
	}
	var n int64
	err := q.QueryRow(ctx, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	return n, err
}
