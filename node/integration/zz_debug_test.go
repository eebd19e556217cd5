package integration

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

func TestZZDebugTxn(t *testing.T) {
	bin := kcatPath(t)
	d := startDev(t, 3, "-v")
	admin := d.client()
	d.must("", "topic", "create", "dbg", "--partitions", "3", "--replication-factor", "3")
	waitLeaders(t, admin, "dbg", 3)
	cmd := exec.Command(bin, "-b", d.bootstrap, "-P", "-t", "dbg", "-X", "transactional.id=kc", "-d", "eos,protocol,broker")
	cmd.Stdin = strings.NewReader("a\nb\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("err %v", err)
	debugDump(t, d)
}

func init() { debugDump = func(t *testing.T, d *devCluster) { t.Logf("%s", tail(d.dir+"/dev.log", 80)) } }

var debugDump func(*testing.T, *devCluster)
