// Command kfake runs franz-go's in-process fake Kafka cluster (kfake) as a server, so
// that `seedlog bench` can measure it the same way it measures seedlog. It lives in its
// own module so that the seedlog module does not depend on kfake.
//
//	cd tools/kfake && go run . --sync --data /tmp/kfake
//	seedlog bench -b <printed bootstrap> --record-size 1024 --acks all
//
// kfake persists to --data when given; --sync makes it fsync every produced batch (its
// SyncWrites option), the closest it comes to seedlog's acks-after-fsync.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	brokers := flag.Int("brokers", 1, "brokers in the fake cluster")
	port := flag.Int("port", 0, "port of the first broker (0: any free ports)")
	dataDir := flag.String("data", "", "persist to this directory (default: memory only)")
	sync := flag.Bool("sync", false, "fsync every produced batch (needs --data)")
	flag.Parse()
	if *sync && *dataDir == "" {
		fmt.Fprintln(os.Stderr, "kfake: --sync needs --data DIR")
		os.Exit(2)
	}
	opts := []kfake.Opt{kfake.NumBrokers(*brokers)}
	if *port != 0 {
		ports := make([]int, *brokers)
		for i := range ports {
			ports[i] = *port + i
		}
		opts = append(opts, kfake.Ports(ports...))
	}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	if *sync {
		opts = append(opts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kfake: %v\n", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Printf("bootstrap: %s\n", strings.Join(c.ListenAddrs(), ","))
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
}
