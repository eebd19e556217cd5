// Package kafka holds seedlog's Kafka API handlers, one file per API key, named after it
// (00_produce.go, 01_fetch.go, ...). Each file opens with the versions it serves and how
// it deviates from Apache Kafka, if at all. Handlers take decoded kmsg requests and build
// kmsg responses with Kafka error codes; the node routes requests to them.
package kafka
