package deploytest

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	sigsjson "sigs.k8s.io/json"

	"github.com/casemail/casemail/config"
)

// manifests holds every object of deploy/kubernetes, by kind and name.
type manifests struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	pdbs        map[string]*policyv1.PodDisruptionBudget
	files       map[string][]string // file → "Kind/name" of its objects
}

// strictJSON decodes YAML into v the way the API server reads the JSON
// form (sigs.k8s.io/json, what apimachinery uses): field names are
// case-sensitive and a field the type does not have is an error, so that a
// typo such as readOnlyRootFileSystem fails instead of being dropped.
func strictJSON(doc any, v any) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	strict, err := sigsjson.UnmarshalStrict(b, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

func loadManifests(t *testing.T, dir string) *manifests {
	t.Helper()
	m := &manifests{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, files: map[string][]string{},
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	for _, path := range paths {
		name := filepath.Base(path)
		if name == "kustomization.yaml" {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(f)
		for i := 0; ; i++ {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d: %v", name, i+1, err)
			}
			if doc == nil {
				continue
			}
			var tm metav1.TypeMeta
			tm.APIVersion, _ = doc["apiVersion"].(string)
			tm.Kind, _ = doc["kind"].(string)
			var obj interface{ GetName() string }
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				o := &appsv1.Deployment{}
				obj, m.deployments[nameOf(doc)] = o, o
			case "v1 Service":
				o := &corev1.Service{}
				obj, m.services[nameOf(doc)] = o, o
			case "v1 ConfigMap":
				o := &corev1.ConfigMap{}
				obj, m.configMaps[nameOf(doc)] = o, o
			case "v1 Secret":
				o := &corev1.Secret{}
				obj, m.secrets[nameOf(doc)] = o, o
			case "policy/v1 PodDisruptionBudget":
				o := &policyv1.PodDisruptionBudget{}
				obj, m.pdbs[nameOf(doc)] = o, o
			default:
				t.Fatalf("%s: document %d: %s %s is not a kind this test knows; add it", name, i+1, tm.APIVersion, tm.Kind)
			}
			if err := strictJSON(doc, obj); err != nil {
				t.Errorf("%s: %s %s: %v", name, tm.Kind, nameOf(doc), err)
				continue
			}
			if obj.GetName() == "" {
				t.Errorf("%s: %s without metadata.name", name, tm.Kind)
			}
			m.files[name] = append(m.files[name], tm.Kind+"/"+obj.GetName())
		}
		f.Close()
	}
	return m
}

func nameOf(doc map[string]any) string {
	md, _ := doc["metadata"].(map[string]any)
	n, _ := md["name"].(string)
	return n
}

// TestKubernetesManifests decodes every manifest strictly into the
// k8s.io/api types (offline: no cluster, no schema download) and checks
// that they fit together: selectors select the pods, probes hit /healthz
// and /readyz on the port casemail listens on, the pods run non-root on a
// read-only root file system, every ConfigMap, Secret and key referred to
// exists, and the casemail.yaml and rules.yaml in the ConfigMap load.
func TestKubernetesManifests(t *testing.T) {
	root := repoRoot(t)
	dir := filepath.Join(root, "deploy/kubernetes")
	m := loadManifests(t, dir)

	// kustomization.yaml lists every manifest but the example Secret.
	var kz struct {
		APIVersion string   `yaml:"apiVersion"`
		Kind       string   `yaml:"kind"`
		Resources  []string `yaml:"resources"`
		Labels     []struct {
			Pairs map[string]string `yaml:"pairs"`
		} `yaml:"labels"`
	}
	strictYAML(t, "kustomization.yaml", read(t, filepath.Join(dir, "kustomization.yaml")), &kz)
	var want []string
	for f := range m.files {
		if f != "secret.example.yaml" {
			want = append(want, f)
		}
	}
	sort.Strings(want)
	got := append([]string(nil), kz.Resources...)
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("kustomization resources %v, want %v", got, want)
	}

	d := m.deployments["casemail"]
	if d == nil {
		t.Fatalf("no Deployment casemail; have %v", m.files)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas %v: want 2 or more against one PostgreSQL", d.Spec.Replicas)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	if !sel.Matches(podLabels) {
		t.Errorf("the Deployment's selector %s does not select its pods %v", sel, podLabels)
	}
	pod := d.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot, a non-zero runAsUser, seccomp RuntimeDefault", psc)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container securityContext %+v: want a read-only root, no privilege escalation, all capabilities dropped", sc)
	}
	port := map[string]int32{}
	for _, p := range c.Ports {
		port[p.Name] = p.ContainerPort
	}
	for what, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP GET", what)
			continue
		}
		wantPath := "/healthz"
		if what == "readiness" {
			wantPath = "/readyz"
		}
		if probe.HTTPGet.Path != wantPath || port[probe.HTTPGet.Port.String()] == 0 {
			t.Errorf("%s probe GET %s on port %s: want %s on a named container port", what, probe.HTTPGet.Path,
				probe.HTTPGet.Port.String(), wantPath)
		}
	}

	// Volumes, ConfigMaps, Secrets and keys referred to exist.
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	mountAt := map[string]string{} // mount path → volume name
	for _, vm := range c.VolumeMounts {
		if _, ok := volumes[vm.Name]; !ok {
			t.Errorf("volumeMount %s names no volume", vm.Name)
		}
		mountAt[vm.MountPath] = vm.Name
	}
	secretKeys := func(name string) map[string]bool {
		s := m.secrets[name]
		if s == nil {
			t.Errorf("Secret %s is referred to but not in secret.example.yaml", name)
			return nil
		}
		keys := map[string]bool{}
		for k := range s.StringData {
			keys[k] = true
		}
		for k := range s.Data {
			keys[k] = true
		}
		return keys
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			ref := e.ValueFrom.SecretKeyRef
			if keys := secretKeys(ref.Name); keys != nil && !keys[ref.Key] {
				t.Errorf("env %s: Secret %s has no key %s", e.Name, ref.Name, ref.Key)
			}
		}
	}
	var cmName string
	for _, v := range pod.Volumes {
		switch {
		case v.ConfigMap != nil:
			if m.configMaps[v.ConfigMap.Name] == nil {
				t.Errorf("volume %s: no ConfigMap %s", v.Name, v.ConfigMap.Name)
			}
			cmName = v.ConfigMap.Name
		case v.Secret != nil:
			keys := secretKeys(v.Secret.SecretName)
			for _, it := range v.Secret.Items {
				if keys != nil && !keys[it.Key] {
					t.Errorf("volume %s: Secret %s has no key %s", v.Name, v.Secret.SecretName, it.Key)
				}
			}
		}
	}

	// The configuration in the ConfigMap loads, names files the pod has,
	// and listens where the probes knock.
	cm := m.configMaps[cmName]
	if cm == nil {
		t.Fatal("the Deployment mounts no ConfigMap")
	}
	var cfgDir string
	for path, vol := range mountAt {
		if vol == findVolume(pod.Volumes, func(v corev1.Volume) bool { return v.ConfigMap != nil }) {
			cfgDir = path
		}
	}
	cfgFile := filepath.Join(cfgDir, "casemail.yaml")
	if !contains(c.Args, cfgFile) {
		t.Errorf("container args %v do not name %s", c.Args, cfgFile)
	}
	cfg, err := config.ParseDaemon(cfgFile, []byte(cm.Data["casemail.yaml"]),
		env(map[string]string{"CASEMAIL_DATABASE_URL": "postgres://casemail@postgres/casemail"}))
	if err != nil {
		t.Fatalf("casemail.yaml in the ConfigMap: %v", err)
	}
	rules, err := config.ParseRules("rules.yaml", []byte(cm.Data[filepath.Base(cfg.RulesFile)]))
	if err != nil {
		t.Fatalf("rules.yaml in the ConfigMap: %v", err)
	}
	if err := cfg.CheckRules(rules); err != nil {
		t.Error(err)
	}
	if !strings.HasPrefix(cfg.HTTP.Listen, "0.0.0.0:") || !strings.HasSuffix(cfg.HTTP.Listen, ":"+strconv.Itoa(int(port["http"]))) {
		t.Errorf("http.listen %s: want 0.0.0.0 and the container port %d", cfg.HTTP.Listen, port["http"])
	}
	files := []string{cfg.SecretFile, cfg.SMTP.PasswordFile}
	for _, mb := range cfg.Mailboxes {
		files = append(files, mb.IMAP.PasswordFile)
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		if !podHasFile(pod, c, f) {
			t.Errorf("casemail.yaml reads %s, which no volume of the pod provides", f)
		}
	}

	// The Service and the PodDisruptionBudget select the same pods.
	svc := m.services["casemail"]
	if svc == nil || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("Service casemail does not select the pods")
	} else if len(svc.Spec.Ports) == 0 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service ports %+v: want targetPort http", svc.Spec.Ports)
	}
	pdb := m.pdbs["casemail"]
	if pdb == nil {
		t.Fatal("no PodDisruptionBudget casemail")
	}
	psel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || !psel.Matches(podLabels) {
		t.Errorf("PodDisruptionBudget does not select the pods (%v)", err)
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 ||
		pdb.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
		t.Errorf("minAvailable %v: want at least 1 and fewer than the replicas, so that drains can proceed", pdb.Spec.MinAvailable)
	}
}

func findVolume(vs []corev1.Volume, pred func(corev1.Volume) bool) string {
	for _, v := range vs {
		if pred(v) {
			return v.Name
		}
	}
	return ""
}

// podHasFile reports whether path is a file a volume of the pod provides.
func podHasFile(pod corev1.PodSpec, c corev1.Container, path string) bool {
	for _, vm := range c.VolumeMounts {
		rel, err := filepath.Rel(vm.MountPath, path)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != vm.Name {
				continue
			}
			switch {
			case v.Secret != nil && len(v.Secret.Items) > 0:
				for _, it := range v.Secret.Items {
					if it.Path == rel {
						return true
					}
				}
			case v.Secret != nil, v.ConfigMap != nil:
				return true
			}
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestStrictDecodingCatchesTypos: the check above is not blind — a
// misspelt field fails it.
func TestStrictDecodingCatchesTypos(t *testing.T) {
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  template:
    spec:
      containers:
        - name: c
          securityContext: {readOnlyRootFileSystem: true}
`), &doc); err != nil {
		t.Fatal(err)
	}
	err := strictJSON(doc, &appsv1.Deployment{})
	if err == nil || !strings.Contains(err.Error(), "readOnlyRootFileSystem") {
		t.Errorf("a misspelt field: %v, want an unknown-field error", err)
	}
}
