package routing_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/casemail/casemail/config"
	"github.com/casemail/casemail/routing"
	"github.com/casemail/casemail/store"
	"github.com/casemail/casemail/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const fairRules = `people:
  - {id: eva, name: Eva Holm, email: eva@example.org}
  - {id: per, name: Per Dahl, email: per@example.org}
  - {id: lars, name: Lars Nyström, email: lars@example.org}
  - {id: anna, name: Anna Vik, email: anna@example.org}
  - {id: ola, name: Ola Berg, email: ola@example.org}
units:
  - {id: bryne, name: Bryne skole, work_area: schools, domains: [bryne.example.no]}
roles:
  superuser: {by_unit: {bryne: [ola, anna]}}
  central_support: {everyone: [per, lars, eva], assign: round_robin}
services:
  - id: qm
    name: Qm+
    keywords: [qm]
    chain: [{tier: 1, role: superuser}]
  - id: triage
    name: Central triage
    chain: [{tier: 2, role: central_support}]
default: {service: triage}
`

// Round robin with the PostgreSQL assigner is fair across instances: two
// daemons (two connection pools) assigning 100 cases each to two pools at
// once spread every pool evenly, each case in its own transaction as
// intake routes it.
func TestRoundRobinFairAcrossInstances(t *testing.T) {
	ctx := context.Background()
	rules, err := config.ParseRules("rules.yaml", []byte(fairRules))
	if err != nil {
		t.Fatal(err)
	}
	url := storetest.URL(t)
	var instances []*store.Store
	for i := 0; i < 2; i++ {
		st, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		instances = append(instances, st)
	}
	if err := instances[0].Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)
	inputs := map[string]routing.Input{
		"role:central_support":      {From: "x@example.se", Subject: "Hjälp", Received: at},
		"role:superuser:unit:bryne": {From: "y@bryne.example.no", Subject: "qm virker ikke", Received: at},
	}
	const perInstance = 50 // per pool: 100 cases in all
	var mu sync.Mutex
	counts := map[string]map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(instances)*len(inputs))
	for _, st := range instances {
		for pool, in := range inputs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perInstance; i++ {
					who, err := assignInTx(ctx, st, rules, in, pool)
					if err != nil {
						errs <- fmt.Errorf("%s: %w", pool, err)
						return
					}
					mu.Lock()
					if counts[pool] == nil {
						counts[pool] = map[string]int{}
					}
					counts[pool][who]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := map[string]map[string]int{
		// 100 over three: 34, 33, 33 (the first by id takes the extra one).
		"role:central_support":      {"eva": 34, "lars": 33, "per": 33},
		"role:superuser:unit:bryne": {"anna": 50, "ola": 50},
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("assignments %v, want %v", counts, want)
	}
}

// assignInTx routes one mail with the store's assigner in a transaction
// and returns the assignee, checking the pool it was drawn from.
func assignInTx(ctx context.Context, st *store.Store, rules *config.Rules, in routing.Input, pool string) (string, error) {
	tx, err := st.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	d, err := routing.Route(ctx, rules, in, store.Assigner{Q: tx})
	if err != nil {
		return "", err
	}
	if d.Strategy != "round_robin" || routing.PoolKey(rules, &d) != pool {
		return "", fmt.Errorf("strategy %q from pool %s", d.Strategy, routing.PoolKey(rules, &d))
	}
	return d.Assignee, tx.Commit(ctx)
}
