// Command gen writes the kubiya_exporter Grafana dashboards as JSON.
//
//	go run ./dashboards/gen -out dashboards
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kubiya/kubiya_exporter/dashboards"
)

func main() {
	out := flag.String("out", "dashboards", "directory to write the dashboard JSON files to")
	flag.Parse()
	files, err := dashboards.Generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "generate dashboards:", err)
		os.Exit(1)
	}
	for _, name := range dashboards.Files {
		path := filepath.Join(*out, name)
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", path)
	}
}
