# Compatibility workload for perl under LD_PRELOAD: hashes, strings, arrays, regexes and sorting, with
# output that depends only on the input.
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);

my $n = 150000;
my %h;
for my $i (0 .. $n - 1) {
        my $k = sprintf("key%x", ($i * 2654435761) % 1000003);
        $h{$k} .= chr(65 + $i % 26) x (1 + $i % 11);
        delete $h{ sprintf("key%x", (($i / 2) * 2654435761) % 1000003) } if $i % 4 == 0;
}
my @keys = sort keys %h;
print "hash ", scalar(@keys), " ", md5_hex(join(",", map { "$_=$h{$_}" } @keys)), "\n";

my @words;
for my $i (0 .. $n - 1) {
        push @words, join("", map { chr(97 + ($i * 7 + $_ * $_) % 26) } 1 .. (1 + $i % 12));
}
my %freq;
$freq{$_}++ for @words;
my @top = (sort { $freq{$b} <=> $freq{$a} or $a cmp $b } keys %freq)[0 .. 4];
print "words ", scalar(keys %freq), " @top\n";

my $text = join("\n", map { "row $_: " . ("xy" x ($_ % 40)) } 0 .. $n / 2);
my @m = ($text =~ /(\d+): (?:xy){10,}/g);
(my $t2 = $text) =~ s/xy/YX/g;
print "regex ", scalar(@m), " ", length($t2), " ", md5_hex($t2), "\n";

my @aoa;
for my $i (0 .. 20000) {
        push @aoa, [ map { $_ * $i } 0 .. $i % 30 ];
        splice(@aoa, 0, 100) if @aoa > 5000;
}
my $sum = 0;
$sum += scalar(@$_) for @aoa;
print "arrays ", scalar(@aoa), " $sum\n";
